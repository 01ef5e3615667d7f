# Shared helpers of scripts/run and scripts/test.

need_cargo() {
    if ! command -v cargo >/dev/null; then
        echo "cargo is missing: install a Rust toolchain (https://rustup.rs), 1.88 or newer" >&2
        exit 1
    fi
}

# apt_install PACKAGE...: installs Debian packages, or says exactly what to do when
# it cannot.
apt_install() {
    if ! command -v apt-get >/dev/null; then
        echo "missing: install the Debian packages $* (or your system's equivalents)" >&2
        exit 1
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    echo "installing $*"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# need_debian_package COMMAND PACKAGE: installs PACKAGE when COMMAND is missing.
need_debian_package() {
    local command="$1" package="$2"
    if command -v "$command" >/dev/null || [ -x "/usr/bin/$command" ]; then
        return
    fi
    apt_install "$package"
}

# need_debian_file FILE PACKAGE: installs PACKAGE when FILE is missing.
need_debian_file() {
    local file="$1" package="$2"
    [ -e "$file" ] || apt_install "$package"
}

# Asterisk's core sounds in English and French, which the prompts use.
need_asterisk_sounds() {
    need_debian_file /usr/share/asterisk/sounds/en/vm-intro.wav asterisk-core-sounds-en-wav
    need_debian_file /usr/share/asterisk/sounds/fr/vm-intro.wav asterisk-core-sounds-fr-wav
}

redis_answers() {
    local port="$1"
    command -v redis-cli >/dev/null && [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]
}
