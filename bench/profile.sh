#!/usr/bin/env bash
# `make profile`: where a resource-service spends its CPU on GET /me under load.
# Starts a private stack as `make bench` does (Redis, SecantusDB, an auth-service whose
# beat keeps the validation cache live, seeded sessions), then for each leg runs wrk
# against one resource-service while `perf record` samples it, and writes under
# bench/results/profile-<time>/:
#   <leg>.svg     a flamegraph (inferno), <leg>.folded the collapsed stacks,
#   <leg>.top.txt the functions with the most samples of their own (perf report).
# Legs: plain (validation against Redis, reads coalesced) and cached (validation.cache =
# true), both at RUST_LOG=warn; plain-info: plain at the default level, access lines
# included; plain-serial: plain with redis.coalesce_reads = false (one command a read,
# the path before coalescing), for the before/after of that change.
#
# PROFILE_SECONDS (default 10), PROFILE_CONNECTIONS (50), PROFILE_SESSIONS (10000),
# PROFILE_FREQUENCY (samples a second per thread, default 499), PROFILE_LEGS (default
# "plain cached plain-info plain-serial"),
# PROFILE_BIN (a resource-service binary to profile instead of target/release's),
# PROFILE_KEEP_DATA=1 (keep perf's own <leg>.perf.data for perf report; large).
set -euo pipefail
source "$(dirname "$0")/../scripts/services.sh"
cd "$REPO_ROOT"

SECONDS_PER_LEG=${PROFILE_SECONDS:-10}
CONNECTIONS=${PROFILE_CONNECTIONS:-50}
SESSIONS=${PROFILE_SESSIONS:-10000}
FREQUENCY=${PROFILE_FREQUENCY:-499}
LEGS=${PROFILE_LEGS:-plain cached plain-info plain-serial}

ensure_apt_package redis-server redis-server
ensure_apt_package wrk wrk
ensure_apt_package perf linux-perf
ensure_secantus
INFERNO="$REPO_ROOT/target/tools/bin"
if [ ! -x "$INFERNO/inferno-flamegraph" ]; then
    echo "installing inferno (flamegraphs) into target/tools ..." >&2
    cargo install --locked --quiet inferno --root "$REPO_ROOT/target/tools"
fi
cargo build --release --bins
cargo build --release -p session-core --example seed_sessions
BIN=${PROFILE_BIN:-$REPO_ROOT/target/release/resource-service}

OUT="$REPO_ROOT/bench/results/profile-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
start_stores

export RUST_LOG=warn
export APP__REDIS__URL="$REDIS_URL"
export APP__JWT__SECRET="bench-secret-that-is-long-enough-0123456789"
export APP__INTERNAL__TOKEN="bench-internal-token-0123456789"

# The auth-service: its beat on the invalidation channel is what keeps a validation
# cache serving.
auth_port=$(free_port)
start_service auth-service "$auth_port" "$RUN_DIR/auth.log" APP__MONGODB__URI="$MONGO_URI"
PIDS+=("$SERVICE_PID")

# start_instance NAME LOG_LEVEL [VAR=VALUE...]: one resource-service; sets PORT and PID.
start_instance() {
    local name=$1 level=$2
    shift 2
    PORT=$(free_port)
    env "$@" RUST_LOG="$level" APP__SERVER__PORT="$PORT" "$BIN" >"$RUN_DIR/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_port "$PORT" 20
}

TOKENS="$RUN_DIR/tokens.txt"
"$REPO_ROOT/target/release/examples/seed_sessions" "$SESSIONS" "$TOKENS"

# profile_leg NAME LOG_LEVEL [VAR=VALUE...]
profile_leg() {
    local name=$1 level=$2
    shift 2
    start_instance "$name" "$level" "$@"
    # A warm-up, then the measured run with perf attached for all but its edges.
    wrk -t2 -c"$CONNECTIONS" -d2s -s bench/me.lua "http://127.0.0.1:$PORT/me" -- "$TOKENS" >/dev/null
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_LEG}s" --latency -s bench/me.lua \
        "http://127.0.0.1:$PORT/me" -- "$TOKENS" >"$OUT/$name.wrk.txt" &
    local load=$!
    sleep 1
    perf record -q -F "$FREQUENCY" --call-graph dwarf,65528 -p "$PID" -o "$RUN_DIR/$name.data" \
        -- sleep $((SECONDS_PER_LEG - 2)) 2>/dev/null
    wait "$load"
    perf script -i "$RUN_DIR/$name.data" 2>/dev/null | "$INFERNO/inferno-collapse-perf" >"$OUT/$name.folded"
    "$INFERNO/inferno-flamegraph" --title "resource-service GET /me: $name" \
        <"$OUT/$name.folded" >"$OUT/$name.svg"
    perf report -i "$RUN_DIR/$name.data" --no-children --sort symbol --stdio -g none \
        --percent-limit 0.7 2>/dev/null | awk '/^ *[0-9]/ { $1 = $1; sub(/ - -$/, ""); print }' >"$OUT/$name.top.txt"
    if [ -n "${PROFILE_KEEP_DATA:-}" ]; then
        mv "$RUN_DIR/$name.data" "$OUT/$name.perf.data"
    fi
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    echo "== $name: $(awk '/Requests\/sec/ {print $2 " req/s"}' "$OUT/$name.wrk.txt"), top of the profile (self):"
    head -n 15 "$OUT/$name.top.txt"
}

for leg in $LEGS; do
    case $leg in
        plain) profile_leg plain warn ;;
        cached) profile_leg cached warn APP__VALIDATION__CACHE=true ;;
        plain-info) profile_leg plain-info info ;;
        plain-serial) profile_leg plain-serial warn APP__REDIS__COALESCE_READS=false ;;
        *) echo "error: unknown leg $leg (plain, cached, plain-info, plain-serial)" >&2; exit 2 ;;
    esac
done
echo "profiles in $OUT"
