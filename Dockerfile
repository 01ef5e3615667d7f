# voiceportal's image for docker-compose.yml: the release binary on a slim Debian.
#
# RUST_IMAGE: the build stage's image (docker-compose.yml passes it; Rust 1.88 is
# the oldest the crate builds with).
ARG RUST_IMAGE=rust:1.88-slim-bookworm

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# The dependencies first, in a layer of their own that only Cargo.toml and
# Cargo.lock change: editing the code then rebuilds voiceportal, not its crates.
# The workspace's other member (ari-sim, the tests' simulator) and every bench and
# test Cargo.toml declares are stubs here: cargo only needs their files to exist.
COPY Cargo.toml Cargo.lock ./
COPY ari-sim/Cargo.toml ari-sim/
RUN mkdir -p src ari-sim/src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs ari-sim/src/lib.rs \
    && awk '/^\[/ { section = $0 } \
            section == "[[bench]]" && /^name *=/ { split($0, v, "\""); print "benches/" v[2] ".rs" } \
            section == "[[test]]" && /^path *=/ { split($0, v, "\""); print v[2] }' Cargo.toml \
        | while read -r stub; do mkdir -p "$(dirname "$stub")"; echo 'fn main() {}' > "$stub"; done \
    && cargo build --release --locked --bin voiceportal \
    && rm src/main.rs src/lib.rs
# What the crate reads when it compiles: its sources and the OpenAPI document the
# API serves (include_str!).
COPY src src
COPY docs docs
# The copied sources may be older than the stubs' build: make cargo see them.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin voiceportal

FROM debian:bookworm-slim
RUN useradd --system --no-create-home --shell /usr/sbin/nologin voiceportal
COPY --from=build /src/target/release/voiceportal /usr/local/bin/voiceportal
USER voiceportal
ENTRYPOINT ["voiceportal"]
CMD ["serve"]
