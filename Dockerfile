# syntax=docker/dockerfile:1
# Why: the `bridge` service of docker-compose.yml runs mqk from this image.
# Stage one builds the binary (rdkafka compiles its vendored librdkafka with
# cmake and a C/C++ toolchain); stage two carries only the binary.

FROM rust:1-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake pkg-config zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin mqk \
    && cp target/release/mqk /usr/local/bin/mqk

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home --shell /usr/sbin/nologin mqk
COPY --from=build /usr/local/bin/mqk /usr/local/bin/mqk
USER mqk
ENTRYPOINT ["mqk"]
