# Shell functions that install and start the servers the session store needs:
# a private redis-server and SecantusDB (a MongoDB-wire server), each on a free port.
# Sourced by scripts/test.sh, run.sh, soak.sh, check-deploy.sh and bench/bench.sh.

SECANTUS_VERSION="0.7.0b3"
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MONGO_VENV="$REPO_ROOT/.venv-mongo"

# Prints a free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# True when something accepts connections on 127.0.0.1:$1.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Waits up to $2 seconds (default 20) for 127.0.0.1:$1 to accept connections.
wait_port() {
    local port=$1 limit=${2:-20} i
    for ((i = 0; i < limit * 10; i++)); do
        port_open "$port" && return 0
        sleep 0.1
    done
    echo "error: nothing answered on 127.0.0.1:$port after ${limit}s" >&2
    return 1
}

# ensure_apt_package COMMAND PACKAGE: makes sure COMMAND is on PATH, installing Debian's
# PACKAGE when run as root; otherwise says how to install it and fails.
ensure_apt_package() {
    local command=$1 package=$2
    command -v "$command" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing $package from Debian's packages" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >&2
        command -v "$command" >/dev/null 2>&1 && return 0
    fi
    echo "error: $command is missing; install it with: sudo apt-get install -y $package" >&2
    return 1
}

# Makes sure SecantusDB is installed in .venv-mongo at the pinned version.
ensure_secantus() {
    local installed=""
    if [ -x "$MONGO_VENV/bin/secantusd-py" ]; then
        installed=$("$MONGO_VENV/bin/pip" show SecantusDB 2>/dev/null || true)
    fi
    if [[ "$installed" == *"Version: $SECANTUS_VERSION"* ]]; then
        return 0
    fi
    echo "installing SecantusDB $SECANTUS_VERSION into .venv-mongo" >&2
    python3 -m venv "$MONGO_VENV" >&2 &&
        "$MONGO_VENV/bin/pip" install -q "SecantusDB==$SECANTUS_VERSION" >&2
}

# start_redis PORT DIR [extra redis-server args...]: starts redis-server in the
# background (no persistence, logging to DIR/redis-PORT.log; later args override these);
# sets REDIS_PID. Stops it again when it does not answer.
start_redis() {
    local port=$1 dir=$2
    shift 2
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$dir" --logfile "$dir/redis-$port.log" "$@" &
    REDIS_PID=$!
    wait_port "$port" 20 || { stop_pids "$REDIS_PID"; return 1; }
}

# start_mongo PORT DIR [STORAGE]: starts SecantusDB in the background, logging to
# DIR/mongo-PORT.log, with its data in STORAGE (default :memory:); sets MONGO_PID.
# Stops it again when it does not answer.
start_mongo() {
    local port=$1 dir=$2 storage=${3:-:memory:}
    "$MONGO_VENV/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path "$storage" \
        --standalone --cache-size 256M --log-level WARNING >"$dir/mongo-$port.log" 2>&1 &
    MONGO_PID=$!
    wait_port "$port" 30 || { stop_pids "$MONGO_PID"; return 1; }
}

# start_stores: a private Redis and SecantusDB on free ports, in a new temporary
# directory RUN_DIR. Sets REDIS_PORT, MONGO_PORT, REDIS_URL and MONGO_URI; every pid
# goes into PIDS (add your own to it), and on exit they are stopped and RUN_DIR removed.
start_stores() {
    RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/session-store-XXXXXX")
    PIDS=()
    trap 'stop_pids "${PIDS[@]}"; rm -rf "$RUN_DIR"' EXIT
    trap 'exit 130' INT TERM
    REDIS_PORT=$(free_port)
    start_redis "$REDIS_PORT" "$RUN_DIR"
    PIDS+=("$REDIS_PID")
    MONGO_PORT=$(free_port)
    start_mongo "$MONGO_PORT" "$RUN_DIR"
    PIDS+=("$MONGO_PID")
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    MONGO_URI="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
}

# stop_pids PID...: SIGTERM each and wait for it to exit.
stop_pids() {
    local pid
    for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
    for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# rss_kb PID: the resident set size of a process, in KiB.
rss_kb() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# start_service NAME PORT LOGFILE [VAR=VALUE...]: runs the release binary NAME in the
# background with extra environment; sets SERVICE_PID and waits for its port.
# Stops it again when it does not answer.
# ensure_smtp_sink: aiosmtpd (pinned) in .venv-tools, for scripts/smtp-sink.py, the local
# SMTP server make run and the tests mail to; sets SMTP_SINK_PYTHON.
AIOSMTPD_VERSION=1.4.6
ensure_smtp_sink() {
    local venv="$REPO_ROOT/.venv-tools"
    SMTP_SINK_PYTHON="$venv/bin/python"
    if [ -x "$venv/bin/aiosmtpd" ] &&
        [ "$("$venv/bin/pip" show aiosmtpd 2>/dev/null | sed -n 's/^Version: //p')" = "$AIOSMTPD_VERSION" ]; then
        return 0
    fi
    echo "installing aiosmtpd $AIOSMTPD_VERSION into .venv-tools" >&2
    python3 -m venv "$venv" >&2 && "$venv/bin/pip" install -q "aiosmtpd==$AIOSMTPD_VERSION" >&2
}

start_service() {
    local name=$1 port=$2 log=$3
    shift 3
    env "$@" APP__SERVER__PORT="$port" "$REPO_ROOT/target/release/$name" >"$log" 2>&1 &
    SERVICE_PID=$!
    wait_port "$port" 20 || { stop_pids "$SERVICE_PID"; return 1; }
}
