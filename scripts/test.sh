#!/usr/bin/env bash
# Why: `make test` and CI run the whole test suite against real brokers
# (Mosquitto 2 and tansu) on a fresh machine, with one command. This script
# installs what is missing (Mosquitto, tansu, and through scripts/setup.sh
# the C toolchain librdkafka needs), starts throwaway brokers on free
# loopback ports, hands their addresses to the tests through MQK_TEST_*
# variables, and stops the brokers whatever happens.
#
# Usage: scripts/test.sh [ARGS...]   ARGS go to the test binaries, after
#        `--` (a name filter, --nocapture, ...)
# MQK_KEEP_BROKER_DIR=1 keeps the run directory (configs, logs) on success.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Mosquitto (and its mosquitto_passwd) for the tests that need a broker of their own, and
# openssl for the TLS tests' certificates.
ensure_test_tools() {
    local missing=()
    command -v mosquitto >/dev/null 2>&1 || [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    echo "test: installing ${missing[*]}" >&2
    local sudo=()
    if ((EUID != 0)); then
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y "${missing[@]}"
}

# Called on every exit: stop the brokers, show their logs after a failure.
cleanup() {
    local status=$?
    set +e
    mqk_brokers_stop "$run_dir"
    if ((status != 0)); then
        for log in "$run_dir"/mosquitto.log "$run_dir"/tansu.log; do
            [[ -f "$log" ]] || continue
            echo "--- last lines of $log" >&2
            tail -n 30 "$log" >&2
        done
        echo "test: broker configs and logs kept in $run_dir" >&2
    elif [[ -z "${MQK_KEEP_BROKER_DIR:-}" ]]; then
        rm -rf "$run_dir"
    fi
    exit "$status"
}

ensure_test_tools
scripts/setup.sh
MQK_TANSU="$(scripts/install-tansu.sh)"
export MQK_TANSU

# shellcheck source=scripts/brokers.sh
. scripts/brokers.sh
run_dir="$(mktemp -d "${TMPDIR:-/tmp}/mqk-test.XXXXXX")"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mqk_brokers_start "$run_dir" >/dev/null
set -a
# shellcheck source=/dev/null
. "$run_dir/env"
set +a

cargo test --all-targets -- --test-threads=2 "$@"
