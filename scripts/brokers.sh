#!/usr/bin/env bash
# Why: the integration tests and benchmarks run against real brokers, a
# Mosquitto 2 and a tansu (Kafka protocol), each on a free loopback port so
# that parallel runs and other software never collide. This script starts
# both into a run directory, waits until they accept connections, and stops
# exactly the processes it started, by the PIDs it recorded there.
#
# The functions work with or without `set -e` in the caller.
#
# Usage:
#   scripts/brokers.sh start DIR   start both; write DIR/env; print it
#   scripts/brokers.sh stop DIR    stop what DIR/*.pid records
#   . scripts/brokers.sh           define mqk_brokers_start/mqk_brokers_stop
#
# DIR/env holds KEY=VALUE lines for `set -a; . DIR/env; set +a`:
#   MQK_TEST_MQTT            mqtt://127.0.0.1:PORT
#   MQK_TEST_KAFKA           kafka://127.0.0.1:PORT
#   MQK_TEST_TANSU           the tansu binary (for `tansu topic create`)
#   MQK_TEST_MOSQUITTO_LOG   Mosquitto's log file
#   MQK_TEST_TANSU_LOG       tansu's log file
#   MQK_TEST_BROKER_DIR      DIR itself
#
# Knobs: MQK_TANSU (tansu binary), MQK_TOOLS (where install-tansu.sh puts
# it), MQK_MOSQUITTO (mosquitto binary), MQK_BROKER_TIMEOUT (seconds to wait
# for each broker, default 30), MQK_TANSU_LOG_LEVEL (RUST_LOG for tansu,
# default warn: at info it logs every span of every request).

_mqk_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_mqk_err() {
    echo "brokers: $*" >&2
}

# Prints an unused loopback TCP port. The kernel picks it when perl binds
# port 0; without perl, random ports are tried against `ss -ltn`. Either way
# another process may take it before the broker binds: starting retries.
_mqk_free_port() {
    if command -v perl >/dev/null 2>&1; then
        perl -MIO::Socket::INET -e '
            my $s = IO::Socket::INET->new(
                LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)
                or die "bind: $!\n";
            print $s->sockport, "\n";'
        return
    fi
    local port tries
    for tries in $(seq 1 100); do
        port=$((20000 + RANDOM % 12000))
        if [[ -z "$(ss -ltnH "sport = :$port" 2>/dev/null)" ]]; then
            echo "$port"
            return 0
        fi
    done
    _mqk_err "no free port found after $tries tries"
    return 1
}

# True when PID runs and is not a zombie waiting to be reaped.
_mqk_alive() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

# True when PID is alive and is the program NAME (a recorded PID may have
# been reused by something else since).
_mqk_is_ours() {
    local pid="$1" name="$2" comm
    _mqk_alive "$pid" || return 1
    comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
    [[ "$comm" == "$name" ]]
}

# Waits until PID listens on 127.0.0.1:PORT. Fails early when the process
# exits (usually: the port was taken) and after MQK_BROKER_TIMEOUT seconds.
_mqk_wait_listening() {
    local pid="$1" port="$2" deadline owner
    deadline=$((${EPOCHREALTIME/./} + ${MQK_BROKER_TIMEOUT:-30} * 1000000))
    while ((${EPOCHREALTIME/./} < deadline)); do
        _mqk_alive "$pid" || return 2
        if (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            # The port answers; make sure it is our process that answers,
            # when ss can tell.
            owner="$(ss -ltnpH "sport = :$port" 2>/dev/null)"
            if [[ "$owner" != *pid=* || "$owner" == *"pid=$pid,"* ]]; then
                return 0
            fi
        fi
        sleep 0.1
    done
    return 1
}

# Stops the process recorded in DIR/NAME.pid if it still is NAME: TERM, up
# to 5 s grace, then KILL.
_mqk_stop_one() {
    local dir="$1" name="$2" pidfile pid
    pidfile="$dir/$name.pid"
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && _mqk_is_ours "$pid" "$name"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            _mqk_is_ours "$pid" "$name" || break
            sleep 0.1
        done
        if _mqk_is_ours "$pid" "$name"; then
            _mqk_err "$name (pid $pid) ignored TERM for 5 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        # Reap it when it is our child; harmless otherwise.
        wait "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    return 0
}

# Starts NAME with the command line built by the function _mqk_cmd_NAME
# (given DIR and PORT), records its PID and waits for its port. Retries
# with a fresh port when the process dies before listening. Prints the port.
_mqk_start_one() {
    local dir="$1" name="$2" log="$1/$2.log" attempt port pid rc
    for attempt in 1 2 3; do
        port="$(_mqk_free_port)" || return 1
        local -a cmd
        "_mqk_cmd_$name" "$dir" "$port" || return 1
        echo "--- start $name on 127.0.0.1:$port (attempt $attempt)" >>"$log"
        # cwd = DIR: tansu reads a .env file from its working directory.
        (cd "$dir" && exec "${cmd[@]}") </dev/null >>"$log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/$name.pid"
        rc=0
        _mqk_wait_listening "$pid" "$port" || rc=$?
        if ((rc == 0)); then
            echo "$port"
            return 0
        fi
        if ((rc == 1)); then
            _mqk_err "$name did not listen on 127.0.0.1:$port" \
                "within ${MQK_BROKER_TIMEOUT:-30} s; last lines of $log:"
            tail -n 20 "$log" >&2
            _mqk_stop_one "$dir" "$name"
            return 1
        fi
        wait "$pid" 2>/dev/null || true
        rm -f "$dir/$name.pid"
        _mqk_err "$name exited before listening on port $port; retrying"
    done
    _mqk_err "$name failed to start 3 times; last lines of $log:"
    tail -n 20 "$log" >&2
    return 1
}

_mqk_mosquitto_bin() {
    local bin="${MQK_MOSQUITTO:-}"
    [[ -n "$bin" ]] || bin="$(command -v mosquitto 2>/dev/null || true)"
    # Debian installs it in /usr/sbin, often missing from a user's PATH.
    [[ -n "$bin" ]] || bin=/usr/sbin/mosquitto
    if [[ ! -x "$bin" ]]; then
        _mqk_err "mosquitto not found (apt-get install mosquitto, or set MQK_MOSQUITTO)"
        return 1
    fi
    echo "$bin"
}

_mqk_tansu_bin() {
    local bin="${MQK_TANSU:-${MQK_TOOLS:-$HOME/.cache/mqk-tools}/bin/tansu}"
    if [[ ! -x "$bin" ]]; then
        _mqk_err "tansu not found at $bin (run scripts/install-tansu.sh)"
        return 1
    fi
    echo "$bin"
}

# Sets cmd (declared by the caller) to run Mosquitto with a config made
# from config/mosquitto-test.conf for this port.
_mqk_cmd_mosquitto() {
    local dir="$1" port="$2" bin conf
    bin="$(_mqk_mosquitto_bin)" || return 1
    conf="$(<"$_mqk_root/config/mosquitto-test.conf")" || return 1
    conf="${conf//@PORT@/"$port"}"
    conf="${conf//@LOG@/"$dir/mosquitto.log"}"
    conf="${conf//@USER@/"$(id -un)"}"
    printf '%s\n' "$conf" >"$dir/mosquitto.conf"
    cmd=("$bin" -c "$dir/mosquitto.conf")
}

# Sets cmd to run tansu with in-memory storage on this port. Variables tansu
# reads from the environment that could point it elsewhere are cleared.
_mqk_cmd_tansu() {
    local dir="$1" port="$2" bin
    bin="$(_mqk_tansu_bin)" || return 1
    # tansu loads .env from its working directory or the nearest parent;
    # an empty one in DIR stops that search.
    : >"$dir/.env"
    cmd=(env -u OTEL_EXPORTER_OTLP_ENDPOINT -u SCHEMA_REGISTRY
        "RUST_LOG=${MQK_TANSU_LOG_LEVEL:-warn}" NO_COLOR=1
        "$bin" broker
        --cluster-id mqk-test
        --listener-url "tcp://127.0.0.1:$port"
        --advertised-listener-url "tcp://127.0.0.1:$port"
        --storage-engine memory://tansu/)
}

# Starts both brokers into DIR (created if missing) and writes DIR/env.
mqk_brokers_start() {
    local dir="${1:?usage: mqk_brokers_start DIR}" started mqtt_port kafka_port tansu
    mkdir -p "$dir" && dir="$(cd "$dir" && pwd)" || return 1
    if [[ -f "$dir/mosquitto.pid" || -f "$dir/tansu.pid" ]]; then
        _mqk_err "$dir already has brokers; stop them first"
        return 1
    fi
    tansu="$(_mqk_tansu_bin)" && _mqk_mosquitto_bin >/dev/null || return 1
    started="${EPOCHREALTIME/./}"

    mqtt_port="$(_mqk_start_one "$dir" mosquitto)" || return 1
    if ! kafka_port="$(_mqk_start_one "$dir" tansu)"; then
        _mqk_stop_one "$dir" mosquitto
        return 1
    fi

    cat >"$dir/env" <<EOF
MQK_TEST_MQTT=mqtt://127.0.0.1:$mqtt_port
MQK_TEST_KAFKA=kafka://127.0.0.1:$kafka_port
MQK_TEST_TANSU=$tansu
MQK_TEST_MOSQUITTO_LOG=$dir/mosquitto.log
MQK_TEST_TANSU_LOG=$dir/tansu.log
MQK_TEST_BROKER_DIR=$dir
EOF
    _mqk_err "mosquitto on 127.0.0.1:$mqtt_port, tansu on 127.0.0.1:$kafka_port," \
        "ready after $(((${EPOCHREALTIME/./} - started) / 1000)) ms; env in $dir/env"
    cat "$dir/env"
}

# Stops the brokers recorded in DIR; a missing or dead one is not an error.
mqk_brokers_stop() {
    local dir="${1:?usage: mqk_brokers_stop DIR}"
    [[ -d "$dir" ]] || return 0
    _mqk_stop_one "$dir" tansu
    _mqk_stop_one "$dir" mosquitto
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -uo pipefail
    case "${1:-}" in
    start) mqk_brokers_start "${2:?usage: $0 start DIR}" ;;
    stop) mqk_brokers_stop "${2:?usage: $0 stop DIR}" ;;
    *)
        echo "usage: $0 start DIR | stop DIR" >&2
        exit 2
        ;;
    esac
fi
