#!/usr/bin/env bash
# `make run`: builds release binaries and runs the whole stack on this machine without
# Docker: Redis and SecantusDB (unless APP__REDIS__URL / APP__MONGODB__URI point at
# servers of your own) and an SMTP sink whose mails land in .run/mail/ (unless
# APP__MAIL__SMTP_URL names a server), then the auth-service, the resource-service and
# the example axum service (session-axum). Ctrl-C stops everything it started.
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$REPO_ROOT"

AUTH_PORT=${AUTH_PORT:-8080}
RESOURCE_PORT=${RESOURCE_PORT:-8081}
AXUM_PORT=${AXUM_PORT:-8082}
REDIS_PORT=${REDIS_PORT:-6380}
MONGO_PORT=${MONGO_PORT:-27018}
SMTP_PORT=${SMTP_PORT:-2525}
STATE_DIR="$REPO_ROOT/.run"
LOCK="$STATE_DIR/stack.pid"

mkdir -p "$STATE_DIR"
if [ -f "$LOCK" ] && kill -0 "$(cat "$LOCK")" 2>/dev/null; then
    echo "error: the stack is already running (pid $(cat "$LOCK")); stop it with Ctrl-C in its terminal, or: kill $(cat "$LOCK")" >&2
    exit 1
fi

check_free() {
    if port_open "$1"; then
        echo "error: port $1 ($2) is already in use; free it or choose another with $3=PORT make run" >&2
        exit 1
    fi
}
check_free "$AUTH_PORT" "auth-service" AUTH_PORT
check_free "$RESOURCE_PORT" "resource-service" RESOURCE_PORT
check_free "$AXUM_PORT" "axum-service" AXUM_PORT
[ -n "${APP__REDIS__URL:-}" ] || check_free "$REDIS_PORT" "Redis" REDIS_PORT
[ -n "${APP__MONGODB__URI:-}" ] || check_free "$MONGO_PORT" "SecantusDB" MONGO_PORT
[ -n "${APP__MAIL__SMTP_URL:-}" ] || check_free "$SMTP_PORT" "SMTP sink" SMTP_PORT

command -v cargo >/dev/null || { echo "error: cargo is missing; install Rust from your distribution or rustup" >&2; exit 1; }
echo "==> building release binaries (the first build takes a few minutes)"
cargo build --release --bins

PIDS=()
cleanup() {
    trap - EXIT INT TERM
    echo
    echo "==> stopping the stack"
    stop_pids "${PIDS[@]}"
    rm -f "$LOCK" "$STATE_DIR/stores.env"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo $$ >"$LOCK"

if [ -z "${APP__REDIS__URL:-}" ]; then
    ensure_apt_package redis-server redis-server
    mkdir -p "$STATE_DIR/redis"
    echo "==> starting Redis on 127.0.0.1:$REDIS_PORT (AOF in .run/redis)"
    start_redis "$REDIS_PORT" "$STATE_DIR/redis" --appendonly yes --logfile "$STATE_DIR/redis.log"
    PIDS+=("$REDIS_PID")
    export APP__REDIS__URL="redis://127.0.0.1:$REDIS_PORT"
fi
if [ -z "${APP__MONGODB__URI:-}" ]; then
    ensure_secantus
    mkdir -p "$STATE_DIR/mongo"
    echo "==> starting SecantusDB on 127.0.0.1:$MONGO_PORT (data in .run/mongo)"
    start_mongo "$MONGO_PORT" "$STATE_DIR" "$STATE_DIR/mongo"
    PIDS+=("$MONGO_PID")
    export APP__MONGODB__URI="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
fi

SMTP_SHOWN="your server (APP__MAIL__SMTP_URL)"
if [ -z "${APP__MAIL__SMTP_URL:-}" ]; then
    ensure_smtp_sink
    mkdir -p "$STATE_DIR/mail"
    echo "==> starting an SMTP sink on 127.0.0.1:$SMTP_PORT (every mail lands in .run/mail/)"
    "$SMTP_SINK_PYTHON" scripts/smtp-sink.py --port "$SMTP_PORT" --dir "$STATE_DIR/mail" \
        >"$STATE_DIR/smtp-sink.log" 2>&1 &
    PIDS+=("$!")
    wait_port "$SMTP_PORT" 20 || { echo "error: the SMTP sink did not start; see .run/smtp-sink.log" >&2; exit 1; }
    export APP__MAIL__SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
    SMTP_SHOWN="smtp://127.0.0.1:$SMTP_PORT (a sink: each mail lands in .run/mail/)"
fi

# make demo's second act starts a pair of services of its own against the same stores.
printf 'APP__REDIS__URL=%q\nAPP__MONGODB__URI=%q\n' "$APP__REDIS__URL" "$APP__MONGODB__URI" >"$STATE_DIR/stores.env"

echo "==> starting auth-service on 127.0.0.1:$AUTH_PORT (log .run/auth-service.log)"
start_service auth-service "$AUTH_PORT" "$STATE_DIR/auth-service.log" \
    APP__SERVER__PUBLIC_URL="${APP__SERVER__PUBLIC_URL:-http://127.0.0.1:$AUTH_PORT}"
PIDS+=("$SERVICE_PID")
echo "==> starting resource-service on 127.0.0.1:$RESOURCE_PORT (log .run/resource-service.log)"
start_service resource-service "$RESOURCE_PORT" "$STATE_DIR/resource-service.log" \
    APP__AUTH_SERVICE__URL="http://127.0.0.1:$AUTH_PORT"
PIDS+=("$SERVICE_PID")
echo "==> starting axum-service on 127.0.0.1:$AXUM_PORT (log .run/axum-service.log)"
start_service axum-service "$AXUM_PORT" "$STATE_DIR/axum-service.log" \
    APP__AUTH_SERVICE__URL="http://127.0.0.1:$AUTH_PORT"
PIDS+=("$SERVICE_PID")

for url in "http://127.0.0.1:$AUTH_PORT/health/ready" "http://127.0.0.1:$RESOURCE_PORT/health/ready" \
    "http://127.0.0.1:$AXUM_PORT/health/ready"; do
    for _ in $(seq 1 50); do
        curl -fs "$url" >/dev/null && break
        sleep 0.2
    done
    curl -fs "$url" >/dev/null || { echo "error: $url is not ready; see .run/*.log" >&2; exit 1; }
done

cat <<EOT

The session store is up:
  auth-service      http://127.0.0.1:$AUTH_PORT
  resource-service  http://127.0.0.1:$RESOURCE_PORT   (validation mode: ${APP__VALIDATION__MODE:-redis})
  axum-service      http://127.0.0.1:$AXUM_PORT   (examples/axum-service, on session-axum)
  Redis             ${APP__REDIS__URL}
  MongoDB           ${APP__MONGODB__URI}
  SMTP              $SMTP_SHOWN

Try it (or run: make demo):
  curl -s -X POST http://127.0.0.1:$AUTH_PORT/signup -H 'Content-Type: application/json' \\
       -d '{"email":"ada@example.com","password":"correct horse"}'
  TOKEN=\$(curl -s -X POST http://127.0.0.1:$AUTH_PORT/login -H 'Content-Type: application/json' \\
       -d '{"email":"ada@example.com","password":"correct horse"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  curl -s http://127.0.0.1:$RESOURCE_PORT/me -H "Authorization: Bearer \$TOKEN"

Logs are in .run/. Press Ctrl-C to stop everything.
EOT

# Wait until a service exits or Ctrl-C.
while :; do
    for pid in "${PIDS[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "error: a process of the stack (pid $pid) exited; see .run/*.log" >&2
            exit 1
        fi
    done
    sleep 1
done
