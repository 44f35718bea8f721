#!/usr/bin/env bash
# Load soak: holds 50 connections on the resource-service's /me for 60 s (SOAK_SECONDS)
# and reports requests, errors (must be zero) and both services' RSS at start and end
# (must not grow by more than 20%). Starts its own Redis, SecantusDB and services.
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$REPO_ROOT"
SECONDS_TO_RUN=${SOAK_SECONDS:-60}
CONNECTIONS=${SOAK_CONNECTIONS:-50}

ensure_apt_package redis-server redis-server
ensure_secantus
ensure_apt_package wrk wrk
cargo build --release --bins

start_stores
common=(APP__REDIS__URL="$REDIS_URL" RUST_LOG=warn)
auth_port=$(free_port)
start_service auth-service "$auth_port" "$RUN_DIR/auth.log" "${common[@]}" \
    APP__MONGODB__URI="$MONGO_URI" APP__PASSWORD__BCRYPT_COST=10
AUTH_PID=$SERVICE_PID
PIDS+=("$AUTH_PID")
resource_port=$(free_port)
start_service resource-service "$resource_port" "$RUN_DIR/resource.log" "${common[@]}"
RESOURCE_PID=$SERVICE_PID
PIDS+=("$RESOURCE_PID")

auth="http://127.0.0.1:$auth_port"
body='{"email":"soak@example.com","password":"correct horse battery"}'
curl -fs -X POST "$auth/signup" -H 'Content-Type: application/json' -d "$body" >/dev/null
TOKEN=$(curl -fs -X POST "$auth/login" -H 'Content-Type: application/json' -d "$body" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
# Warm up, so the start figure is the steady state rather than an empty process.
wrk -t2 -c"$CONNECTIONS" -d3s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$resource_port/me" >/dev/null
rss_resource_start=$(rss_kb "$RESOURCE_PID")
rss_auth_start=$(rss_kb "$AUTH_PID")

echo "soak: $CONNECTIONS connections on /me for ${SECONDS_TO_RUN}s"
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_TO_RUN}s" --latency -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$resource_port/me" | tee "$RUN_DIR/wrk.txt"
rss_resource_end=$(rss_kb "$RESOURCE_PID")
rss_auth_end=$(rss_kb "$AUTH_PID")

python3 - "$RUN_DIR/wrk.txt" "$rss_resource_start" "$rss_resource_end" "$rss_auth_start" "$rss_auth_end" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rs, re_, as_, ae = map(int, sys.argv[2:6])
requests = int(re.search(r"(\d+) requests in", text).group(1))
non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", text) or [0, 0])[1])
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
socket_errors = sum(map(int, sock.groups())) if sock else 0
errors = non2xx + socket_errors
growth_r = (re_ - rs) / rs
growth_a = (ae - as_) / as_
print(f"\nrequests: {requests}  errors: {errors} (non-2xx {non2xx}, socket {socket_errors})")
print(f"resource-service RSS: {rs/1024:.1f} MiB -> {re_/1024:.1f} MiB ({growth_r:+.1%})")
print(f"auth-service RSS:     {as_/1024:.1f} MiB -> {ae/1024:.1f} MiB ({growth_a:+.1%})")
ok = errors == 0 and growth_r <= 0.20 and growth_a <= 0.20 and requests > 0
print("soak: PASS" if ok else "soak: FAIL")
sys.exit(0 if ok else 1)
PY
