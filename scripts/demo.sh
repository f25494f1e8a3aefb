#!/usr/bin/env bash
# `make demo`: the sensor network's stream going MQTT -> bridge -> Kafka -> consumer, with
# every message verified, on the brokers `mqk dev` runs in its own process. Needs nothing
# but the Rust toolchain and Debian's package manager.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-40}   # readings per sensor; 15 sensors
scripts/setup.sh
cargo build --release --locked --bin mqk --example sensors
mqk=target/release/mqk
sensors=target/release/examples/sensors

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Waits until the stderr log $1 of a process has a line starting with "ready".
wait_ready() {
  for _ in $(seq 1 300); do
    grep -q '^ready' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: no 'ready' in $1:" >&2
  cat "$1" >&2
  exit 1
}

echo "== starting mqk dev (embedded MQTT broker and Kafka mock cluster)"
$mqk dev --topic sensors:3 >"$work/dev.env" 2>"$work/dev.log" &
pids+=($!)
wait_ready "$work/dev.log"
cat "$work/dev.env"
# shellcheck disable=SC1091
source "$work/dev.env"

echo "== starting the bridge $MQK_MQTT/sensors -> $MQK_KAFKA/sensors"
$mqk bridge "$MQK_MQTT/sensors" "$MQK_KAFKA/sensors" 2>"$work/bridge.log" &
bridge=$!
pids+=("$bridge")
wait_ready "$work/bridge.log"

$sensors generate "$rounds" >"$work/sent.ndjson"
total=$(wc -l <"$work/sent.ndjson")
echo "== publishing $total readings of 15 sensors at QoS 1"
$mqk pub -l -q 1 "$MQK_MQTT/sensors" <"$work/sent.ndjson"

echo "== reading the Kafka topic back"
$mqk sub "$MQK_KAFKA/sensors" --from beginning -n "$total" --timeout 30s --format json \
  >"$work/received.ndjson" || true

echo "== stopping the bridge"
kill -TERM "$bridge"
wait "$bridge" || true
grep -v '^ready' "$work/bridge.log" || true

echo "== verdict"
$sensors verdict "$work/sent.ndjson" "$work/received.ndjson"
