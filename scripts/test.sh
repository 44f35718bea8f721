#!/usr/bin/env bash
# The test command: starts a private Redis and SecantusDB on free ports (installing
# them when missing), runs the whole workspace's tests against them, and stops them.
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$REPO_ROOT"

ensure_apt_package redis-server redis-server
ensure_secantus

RUN_DIR=$(mktemp -d)
PIDS=()
cleanup() {
    stop_pids "${PIDS[@]}"
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis_port=$(free_port)
start_redis "$redis_port" "$RUN_DIR"
PIDS+=("$REDIS_PID")
mongo_port=$(free_port)
start_mongo "$mongo_port" "$RUN_DIR"
PIDS+=("$MONGO_PID")

export TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
export TEST_MONGODB_URI="mongodb://127.0.0.1:$mongo_port/?directConnection=true"
# Fault tests start, stop and restart servers of their own with these.
export TEST_REDIS_SERVER_BIN TEST_SECANTUS_BIN="$MONGO_VENV/bin/secantusd-py"
TEST_REDIS_SERVER_BIN=$(command -v redis-server)
echo "test servers: redis $TEST_REDIS_URL, mongodb $TEST_MONGODB_URI"

# The end-to-end tests start the services' binaries, so build them first.
cargo build --workspace --bins
cargo test --workspace "$@"
