#!/usr/bin/env bash
# `make bench`: builds release binaries, starts a private stack with the functions of
# scripts/services.sh (Redis, SecantusDB, the auth-service and four resource-service
# instances: redis, remote, cached and multiple mode; each on a free port), seeds live
# sessions with session-core's own code (the seed_sessions example) and users through
# POST /signup, then bench/bench.py measures every phase and writes the table as JSON
# under bench/results/.
# Everything started here is stopped on exit, by pid.
#
# A Redis Cluster (3 masters + 3 replicas, on ports of their own) carries the cluster
# leg: two resource-service instances in redis.mode = cluster, wrk on both at once.
#
# BENCH_SECONDS (default 10), BENCH_CONNECTIONS (50), BENCH_SESSIONS (10000),
# BENCH_ZIPF_SESSIONS (1000000: the cache leg's sessions, against a cache of 100000).
# BENCH_LOGOUT_SESSIONS (300000: the sessions each logout leg ends, events on and off).
# BENCH_BASELINE_REV=<git revision> also builds that revision's resource-service and
# measures its validation cache in the same run (uniform and Zipf legs), for comparison.
set -euo pipefail
source "$(dirname "$0")/../scripts/services.sh"
cd "$REPO_ROOT"

export BENCH_SECONDS=${BENCH_SECONDS:-10}
export BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-50}
export BENCH_SESSIONS=${BENCH_SESSIONS:-10000}
export BENCH_ZIPF_SESSIONS=${BENCH_ZIPF_SESSIONS:-1000000}
export BENCH_LOGOUT_SESSIONS=${BENCH_LOGOUT_SESSIONS:-300000}
export BENCH_BCRYPT_COST=10
LOGIN_USERS=50
PASSWORD="correct horse battery"

ensure_apt_package redis-server redis-server
ensure_apt_package redis-benchmark redis-tools
ensure_apt_package wrk wrk
ensure_apt_package curl curl
ensure_secantus
cargo build --release --bins
cargo build --release -p auth-service --example bcrypt_limit
cargo build --release -p session-core --example seed_sessions
# The yardsticks (bench/peer, bench/bare): their own Cargo projects, their own target.
PEERS_TARGET="$REPO_ROOT/target/bench-peers"
CARGO_TARGET_DIR="$PEERS_TARGET" cargo build --release --manifest-path bench/peer/Cargo.toml
CARGO_TARGET_DIR="$PEERS_TARGET" cargo build --release --manifest-path bench/bare/Cargo.toml
BASELINE_BIN=""
if [ -n "${BENCH_BASELINE_REV:-}" ]; then
    echo "building the resource-service of $BENCH_BASELINE_REV for the baseline legs ..."
    baseline_src=$(mktemp -d "${TMPDIR:-/tmp}/session-store-baseline-XXXXXX")
    git worktree add --detach -f "$baseline_src" "$BENCH_BASELINE_REV" >/dev/null
    (cd "$baseline_src" && CARGO_TARGET_DIR="$REPO_ROOT/target/bench-baseline" \
        cargo build --release -p resource-service)
    git worktree remove --force "$baseline_src"
    BASELINE_BIN="$REPO_ROOT/target/bench-baseline/release/resource-service"
fi

start_stores

# The cluster leg's Redis Cluster: six nodes (a node's port must leave room for its
# bus port, +10000), joined with one replica per master.
cluster_port() {
    local port
    while :; do
        port=$(free_port)
        if [ "$port" -le 55535 ] && ! port_open $((port + 10000)); then
            echo "$port"
            return
        fi
    done
}
CLUSTER_NODES=()
for ((i = 0; i < 6; i++)); do
    port=$(cluster_port)
    start_redis "$port" "$RUN_DIR" --cluster-enabled yes \
        --cluster-config-file "$RUN_DIR/nodes-$port.conf" --cluster-node-timeout 2000
    PIDS+=("$REDIS_PID")
    CLUSTER_NODES+=("127.0.0.1:$port")
done
redis-cli --cluster create "${CLUSTER_NODES[@]}" --cluster-replicas 1 --cluster-yes >"$RUN_DIR/cluster-create.log"
for node in "${CLUSTER_NODES[@]}"; do
    for ((i = 0; i < 100; i++)); do
        redis-cli -p "${node##*:}" CLUSTER INFO | grep -q cluster_state:ok && break
        sleep 0.1
    done
done
CLUSTER_SEEDS=$(printf 'redis://%s,' "${CLUSTER_NODES[@]}")
CLUSTER=(APP__REDIS__MODE=cluster APP__REDIS__NODES="${CLUSTER_SEEDS%,}"
    APP__SESSION__KEY_PREFIX="bench-cluster:")

# The services and the seeder read the same settings, so seeded tokens validate.
export RUST_LOG=warn
export APP__REDIS__URL="$REDIS_URL"
export APP__JWT__SECRET="bench-secret-that-is-long-enough-0123456789"
export APP__INTERNAL__TOKEN="bench-internal-token-0123456789"

auth_port=$(free_port)
start_service auth-service "$auth_port" "$RUN_DIR/auth.log" \
    APP__MONGODB__URI="$MONGO_URI" \
    APP__PASSWORD__BCRYPT_COST="$BENCH_BCRYPT_COST" \
    APP__LOGIN__MAX_FAILURES_PER_IP_PER_MINUTE=100000 \
    APP__SIGNUP__MAX_PER_IP_PER_HOUR=100000 \
    APP__PASSWORD__MAX_QUEUE=64
PIDS+=("$SERVICE_PID")
export BENCH_REDIS_PORT=$REDIS_PORT BENCH_AUTH_PORT=$auth_port BENCH_AUTH_PID=$SERVICE_PID

# start_leg VAR_PREFIX BINARY NAME PORT_VAR [VAR=VALUE...]: BINARY in the background
# with PORT_VAR set to a free port and the extra environment, its log RUN_DIR/NAME.log;
# exports <VAR_PREFIX>_PORT and <VAR_PREFIX>_PID for bench.py.
start_leg() {
    local var=$1 binary=$2 name=$3 port_var=$4 port pid
    shift 4
    port=$(free_port)
    env "$@" "$port_var=$port" "$binary" >"$RUN_DIR/$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_port "$port" 20
    export "${var}_PORT=$port" "${var}_PID=$pid"
}

# start_resource VAR_PREFIX NAME [VAR=VALUE...]: one resource-service instance.
start_resource() {
    local var=$1 name=$2
    shift 2
    start_leg "$var" "$REPO_ROOT/target/release/resource-service" "$name" APP__SERVER__PORT "$@"
}
start_resource BENCH_REDIS_MODE redis-mode
# The same with each session read sent alone (redis.coalesce_reads = false), today's
# default path before coalescing, so both are measured in one run.
start_resource BENCH_REDIS_UNCOALESCED redis-mode-uncoalesced APP__REDIS__COALESCE_READS=false
start_resource BENCH_REMOTE_MODE remote-mode \
    APP__VALIDATION__MODE=remote APP__AUTH_SERVICE__URL="http://127.0.0.1:$auth_port"
start_resource BENCH_CACHED cached APP__VALIDATION__CACHE=true
# The default log level, info: one access line per request (to its log file).
start_resource BENCH_REDIS_INFO redis-mode-info RUST_LOG=info
# The same two without metrics, for what recording them costs.
start_resource BENCH_REDIS_NOMETRICS redis-mode-no-metrics APP__METRICS__ENABLED=false
start_resource BENCH_CACHED_NOMETRICS cached-no-metrics APP__VALIDATION__CACHE=true \
    APP__METRICS__ENABLED=false
# session.per_user = multiple keeps token digests under its own key prefix.
MULTIPLE=(APP__SESSION__PER_USER=multiple APP__SESSION__KEY_PREFIX="bench-multiple:")
start_resource BENCH_MULTIPLE multiple-mode "${MULTIPLE[@]}"
# The cluster leg: two instances on the Redis Cluster.
start_resource BENCH_CLUSTER_A cluster-a "${CLUSTER[@]}"
start_resource BENCH_CLUSTER_B cluster-b "${CLUSTER[@]}"
# The cache leg: a million sessions under their own prefix, a cache of 100,000.
ZIPF=(APP__SESSION__KEY_PREFIX="bench-zipf:" APP__VALIDATION__CACHE=true
    APP__VALIDATION__CACHE_MAX_ENTRIES=100000)
# A validation cache serves only while it hears its channel (an auth-service's beat),
# so this prefix gets an auth-service of its own, as a deployment would have.
start_leg BENCH_ZIPF_AUTH "$REPO_ROOT/target/release/auth-service" auth-zipf APP__SERVER__PORT \
    APP__MONGODB__URI="$MONGO_URI" APP__SESSION__KEY_PREFIX="bench-zipf:"
start_resource BENCH_ZIPF cached-zipf "${ZIPF[@]}"
# The same with entries kept up to 60 s, so the eviction policy shows apart from the
# default 5 s age bound (a session used less often than that is a miss whatever the policy).
start_resource BENCH_ZIPF60 cached-zipf-60s "${ZIPF[@]}" APP__VALIDATION__CACHE_MAX_AGE_MS=60000
if [ -n "$BASELINE_BIN" ]; then
    # The same legs against the old binary.
    start_leg BENCH_BASELINE_CACHED "$BASELINE_BIN" baseline-cached APP__SERVER__PORT \
        APP__VALIDATION__CACHE=true
    start_leg BENCH_BASELINE_ZIPF "$BASELINE_BIN" baseline-zipf APP__SERVER__PORT "${ZIPF[@]}"
    start_leg BENCH_BASELINE_ZIPF60 "$BASELINE_BIN" baseline-zipf-60s APP__SERVER__PORT \
        "${ZIPF[@]}" APP__VALIDATION__CACHE_MAX_AGE_MS=60000
fi

# Session events: the logout rate with events on and off (auth-services of their own,
# under prefixes of their own), and webhook delivery to a local receiver that bench.py
# starts on BENCH_HOOK_RECEIVER_PORT (until then deliveries wait: nothing is appended).
EVENTS_ON=(APP__SESSION__KEY_PREFIX="bench-events-on:")
EVENTS_OFF=(APP__SESSION__KEY_PREFIX="bench-events-off:" APP__EVENTS__ENABLED=false)
HOOK=(APP__SESSION__KEY_PREFIX="bench-hook:")
export BENCH_HOOK_RECEIVER_PORT=$(free_port)
start_leg BENCH_EVENTS_ON "$REPO_ROOT/target/release/auth-service" auth-events-on APP__SERVER__PORT \
    APP__MONGODB__URI="$MONGO_URI" "${EVENTS_ON[@]}"
start_leg BENCH_EVENTS_OFF "$REPO_ROOT/target/release/auth-service" auth-events-off APP__SERVER__PORT \
    APP__MONGODB__URI="$MONGO_URI" "${EVENTS_OFF[@]}"
start_leg BENCH_HOOK "$REPO_ROOT/target/release/auth-service" auth-webhook APP__SERVER__PORT \
    APP__MONGODB__URI="$MONGO_URI" "${HOOK[@]}" \
    APP__WEBHOOK__URL="http://127.0.0.1:$BENCH_HOOK_RECEIVER_PORT/hook" \
    APP__WEBHOOK__SECRET="whsec_$(head -c 32 /dev/urandom | base64)"

# The example axum service (session-axum), plain and cached, beside the resource-service.
start_leg BENCH_AXUM "$REPO_ROOT/target/release/axum-service" axum APP__SERVER__PORT
start_leg BENCH_AXUM_CACHED "$REPO_ROOT/target/release/axum-service" axum-cached APP__SERVER__PORT \
    APP__VALIDATION__CACHE=true

# The yardsticks: the peer and the bare handler.
start_leg BENCH_PEER "$PEERS_TARGET/release/bench-peer" bench-peer PORT REDIS_URL="$REDIS_URL"
start_leg BENCH_BARE "$PEERS_TARGET/release/bench-bare" bench-bare PORT

echo "seeding $BENCH_SESSIONS live sessions and $LOGIN_USERS users (bcrypt cost $BENCH_BCRYPT_COST) ..."
export BENCH_TOKENS_FILE="$RUN_DIR/tokens.txt" BENCH_USERS_FILE="$RUN_DIR/users.txt"
"$REPO_ROOT/target/release/examples/seed_sessions" "$BENCH_SESSIONS" "$BENCH_TOKENS_FILE"
echo "seeding $BENCH_ZIPF_SESSIONS sessions for the cache leg ..."
export BENCH_ZIPF_TOKENS_FILE="$RUN_DIR/tokens-zipf.txt"
env "${ZIPF[@]}" "$REPO_ROOT/target/release/examples/seed_sessions" "$BENCH_ZIPF_SESSIONS" \
    "$BENCH_ZIPF_TOKENS_FILE"
export BENCH_CLUSTER_TOKENS_FILE="$RUN_DIR/tokens-cluster.txt"
env "${CLUSTER[@]}" "$REPO_ROOT/target/release/examples/seed_sessions" "$BENCH_SESSIONS" \
    "$BENCH_CLUSTER_TOKENS_FILE"
export BENCH_MULTIPLE_TOKENS_FILE="$RUN_DIR/tokens-multiple.txt"
env "${MULTIPLE[@]}" "$REPO_ROOT/target/release/examples/seed_sessions" "$BENCH_SESSIONS" \
    "$BENCH_MULTIPLE_TOKENS_FILE"
echo "seeding 2 x $BENCH_LOGOUT_SESSIONS sessions for the logout legs, 50000 for delivery ..."
export BENCH_EVENTS_ON_TOKENS_FILE="$RUN_DIR/tokens-events-on.txt"
export BENCH_EVENTS_OFF_TOKENS_FILE="$RUN_DIR/tokens-events-off.txt"
export BENCH_HOOK_TOKENS_FILE="$RUN_DIR/tokens-hook.txt"
env "${EVENTS_ON[@]}" "$REPO_ROOT/target/release/examples/seed_sessions" "$BENCH_LOGOUT_SESSIONS" \
    "$BENCH_EVENTS_ON_TOKENS_FILE"
env "${EVENTS_OFF[@]}" "$REPO_ROOT/target/release/examples/seed_sessions" "$BENCH_LOGOUT_SESSIONS" \
    "$BENCH_EVENTS_OFF_TOKENS_FILE"
env "${HOOK[@]}" "$REPO_ROOT/target/release/examples/seed_sessions" 50000 "$BENCH_HOOK_TOKENS_FILE"
: >"$BENCH_USERS_FILE"
for ((i = 0; i < LOGIN_USERS; i++)); do
    email="bench-login-$i@example.com"
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$auth_port/signup" \
        -H 'Content-Type: application/json' -d "{\"email\":\"$email\",\"password\":\"$PASSWORD\"}")
    if [ "$status" != 201 ]; then
        echo "error: signing up $email answered $status; see the auth-service log" >&2
        tail -n 20 "$RUN_DIR/auth.log" >&2
        exit 1
    fi
    printf '%s %s\n' "$email" "$PASSWORD" >>"$BENCH_USERS_FILE"
done

python3 bench/bench.py
