# Shared helpers of scripts/run and scripts/test.

need_cargo() {
    if ! command -v cargo >/dev/null; then
        echo "cargo is missing: install a Rust toolchain (https://rustup.rs), 1.88 or newer" >&2
        exit 1
    fi
}

# need_debian_package COMMAND PACKAGE: installs PACKAGE with apt-get when COMMAND is
# missing, or says exactly what to do when it cannot.
need_debian_package() {
    local command="$1" package="$2"
    if command -v "$command" >/dev/null || [ -x "/usr/bin/$command" ]; then
        return
    fi
    if ! command -v apt-get >/dev/null; then
        echo "$command is missing: install the package that provides it ($package on Debian)" >&2
        exit 1
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    echo "installing $package (provides $command)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package" >/dev/null
}

redis_answers() {
    local port="$1"
    command -v redis-cli >/dev/null && [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]
}
