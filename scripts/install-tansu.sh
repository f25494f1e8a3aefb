#!/usr/bin/env bash
# Why: the integration tests need a Kafka-protocol broker, and the one that
# installs on these machines without Docker or Java is tansu from crates.io.
# Building it takes minutes, so it is built once into a cache directory
# (${MQK_TOOLS:-$HOME/.cache/mqk-tools}) and reused by every later run.
#
# Usage: scripts/install-tansu.sh    prints the path of the tansu binary
set -euo pipefail

tools="${MQK_TOOLS:-$HOME/.cache/mqk-tools}"
tansu="$tools/bin/tansu"

if [[ ! -x "$tansu" ]]; then
    # `dynostore` brings the memory:// storage engine the tests use.
    echo "install-tansu: building tansu into $tools (takes several minutes)" >&2
    cargo install tansu --features dynostore --locked --root "$tools" >&2
fi

if [[ ! -x "$tansu" ]]; then
    echo "install-tansu: cargo install finished but $tansu is missing" >&2
    exit 1
fi
echo "$tansu"
