#!/usr/bin/env bash
# Makes the README's picture of the dashboard, docs/img/dashboard.png, from real data
# and without Grafana: a private Redis and SecantusDB, both release services, a real
# Prometheus (Debian's prometheus package) scraping them with the jobs of
# deploy/prometheus/prometheus.yml pointed at their local ports, LOAD_SECONDS of
# traffic (deploy/grafana/load.py), then deploy/grafana/render.py, which runs the
# dashboard's own queries against that Prometheus and draws the panels.
#   bash deploy/grafana/picture.sh
# BIN_DIR names the directory of the release binaries (default target/release);
# LOAD_SECONDS the length of the run (default 600); OUT the picture; HOLD=1 keeps
# everything running afterwards (Ctrl-C stops it).
set -euo pipefail
source "$(dirname "$0")/../../scripts/services.sh"
cd "$REPO_ROOT"

BIN_DIR=${BIN_DIR:-$REPO_ROOT/target/release}
LOAD_SECONDS=${LOAD_SECONDS:-600}
OUT=${OUT:-docs/img/dashboard.png}
# Scraped every 5 s instead of compose's 15 s, so ten minutes give enough points;
# $__rate_interval becomes 30 s (Grafana: at least four scrape intervals).
SCRAPE_SECONDS=5
RATE_INTERVAL=30s
TOOLS_VENV="$REPO_ROOT/.venv-tools"

for name in auth-service resource-service; do
    [ -x "$BIN_DIR/$name" ] || { echo "error: $BIN_DIR/$name is missing; build it with: cargo build --release --bins" >&2; exit 1; }
done
ensure_apt_package redis-server redis-server
ensure_apt_package prometheus prometheus
ensure_secantus
if ! "$TOOLS_VENV/bin/python" -c 'import matplotlib, yaml' 2>/dev/null; then
    echo "installing matplotlib and PyYAML into .venv-tools" >&2
    python3 -m venv "$TOOLS_VENV" >&2
    "$TOOLS_VENV/bin/pip" install -q matplotlib pyyaml >&2
fi

start_stores
AUTH_PORT=$(free_port)
RESOURCE_PORT=$(free_port)
PROMETHEUS_PORT=$(free_port)
ADMIN_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
# multiple sessions per user, at most 3 (logins evict); throttles raised, since all
# the traffic comes from one address.
SHARED=(RUST_LOG=warn APP__REDIS__URL="$REDIS_URL" APP__SESSION__PER_USER=multiple
    APP__SESSION__MAX_PER_USER=3)

# run_service NAME PORT VAR=VALUE...: the release binary in the background.
run_service() {
    local name=$1 port=$2
    shift 2
    env "${SHARED[@]}" "$@" APP__SERVER__PORT="$port" "$BIN_DIR/$name" >"$RUN_DIR/$name.log" 2>&1 &
    PIDS+=("$!")
    wait_port "$port" 20
}
run_service auth-service "$AUTH_PORT" APP__MONGODB__URI="$MONGO_URI" APP__ADMIN__TOKEN="$ADMIN_TOKEN" \
    APP__LOGIN__MAX_FAILURES_PER_IP_PER_MINUTE=100000 APP__SIGNUP__MAX_PER_IP_PER_HOUR=100000
run_service resource-service "$RESOURCE_PORT" APP__VALIDATION__CACHE=true \
    APP__AUTH_SERVICE__URL="http://127.0.0.1:$AUTH_PORT"

# deploy/prometheus/prometheus.yml with each job's target replaced by the local port
# of the service the job is named after.
"$TOOLS_VENV/bin/python" - "$RUN_DIR/prometheus.yml" "$SCRAPE_SECONDS" \
    "auth-service=$AUTH_PORT" "resource-service=$RESOURCE_PORT" <<'PY'
import sys
import yaml

out, interval, ports = sys.argv[1], sys.argv[2], dict(a.split("=") for a in sys.argv[3:])
config = yaml.safe_load(open("deploy/prometheus/prometheus.yml"))
config["global"]["scrape_interval"] = f"{interval}s"
config["global"]["evaluation_interval"] = f"{interval}s"
for job in config["scrape_configs"]:
    job["static_configs"] = [{"targets": [f"127.0.0.1:{ports.pop(job['job_name'])}"]}]
if ports:
    sys.exit(f"error: deploy/prometheus/prometheus.yml has no job for {', '.join(ports)}")
yaml.safe_dump(config, open(out, "w"))
PY
prometheus --config.file="$RUN_DIR/prometheus.yml" --storage.tsdb.path="$RUN_DIR/prometheus" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --log.level=warn >"$RUN_DIR/prometheus.log" 2>&1 &
PIDS+=("$!")
wait_port "$PROMETHEUS_PORT" 30

echo "==> $LOAD_SECONDS s of traffic; Prometheus on 127.0.0.1:$PROMETHEUS_PORT scrapes both services every ${SCRAPE_SECONDS}s"
python3 deploy/grafana/load.py "http://127.0.0.1:$AUTH_PORT" "http://127.0.0.1:$RESOURCE_PORT" \
    "$ADMIN_TOKEN" "$LOAD_SECONDS"
load_end=$(date +%s)
sleep $((SCRAPE_SECONDS * 2))
targets=$(curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/targets")
if [ "$(grep -o '"health":"up"' <<<"$targets" | wc -l)" -ne 2 ]; then
    echo "error: Prometheus does not scrape both services: $targets" >&2
    exit 1
fi
"$TOOLS_VENV/bin/python" deploy/grafana/render.py --prometheus "http://127.0.0.1:$PROMETHEUS_PORT" \
    --out "$OUT" --end "$load_end" --minutes "$(((LOAD_SECONDS + 59) / 60))" --step "$SCRAPE_SECONDS" \
    --rate-interval "$RATE_INTERVAL" \
    --note "rendered by deploy/grafana/render.py from the dashboard's queries against a real Prometheus scraping both services under load (deploy/grafana/picture.sh)"
if [ -n "${HOLD:-}" ]; then
    # Keeps everything up to look at Prometheus or render again (render.py --end).
    echo "Prometheus stays up at http://127.0.0.1:$PROMETHEUS_PORT until Ctrl-C (HOLD is set)"
    while :; do
        sleep 60 &
        wait $!
    done
fi
