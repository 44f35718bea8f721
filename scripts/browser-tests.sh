#!/usr/bin/env bash
# The browser tests: the auth-service's pages (/, /account, /reset) driven in headless
# Chromium through Selenium, against the real auth-service (debug build) in
# session.per_user = multiple mode. Installs Chromium, chromedriver and a venv with
# Selenium when missing. Uses the stores in TEST_REDIS_URL / TEST_MONGODB_URI when both
# are set (as scripts/test.sh exports them), else starts a private Redis and SecantusDB.
# Arguments keep only the tests whose names contain them:
#   bash scripts/browser-tests.sh csrf
# Screenshots of every test's browsers go to target/screenshots/.
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$REPO_ROOT"

BROWSER_VENV="$REPO_ROOT/.venv-browser"
BROWSER_REQUIREMENTS="$REPO_ROOT/tests/browser/requirements.txt"
# The second auth-service ends sessions unused for this long; the tests wait past it.
IDLE_TIMEOUT_SECONDS=6

ensure_apt_package chromium chromium
ensure_apt_package chromedriver chromium-driver

# Makes sure .venv-browser holds exactly the pinned packages (Selenium and what it
# needs; aiosmtpd for the SMTP sink the recovery tests read their mails from).
ensure_selenium() {
    local wanted installed=""
    wanted=$(grep -i -E '^(selenium|aiosmtpd)==' "$BROWSER_REQUIREMENTS" | sort)
    if [ -x "$BROWSER_VENV/bin/python" ]; then
        installed=$("$BROWSER_VENV/bin/pip" freeze 2>/dev/null | grep -i -E '^(selenium|aiosmtpd)==' | sort || true)
    fi
    if [ "$installed" = "$wanted" ]; then
        return 0
    fi
    echo "installing $wanted into .venv-browser" >&2
    python3 -m venv "$BROWSER_VENV" >&2 &&
        "$BROWSER_VENV/bin/pip" install -q -r "$BROWSER_REQUIREMENTS" >&2
}
ensure_selenium

if [ -n "${TEST_REDIS_URL:-}" ] && [ -n "${TEST_MONGODB_URI:-}" ]; then
    RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/browser-tests-XXXXXX")
    PIDS=()
    trap 'stop_pids "${PIDS[@]}"; rm -rf "$RUN_DIR"' EXIT
    trap 'exit 130' INT TERM
else
    ensure_apt_package redis-server redis-server
    ensure_secantus
    start_stores
    TEST_REDIS_URL=$REDIS_URL
    TEST_MONGODB_URI=$MONGO_URI
fi

cargo build -p auth-service
AUTH_BIN="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug/auth-service"

RUN_ID=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')

# start_auth NAME [VAR=VALUE...]: the debug auth-service on a free port, with its own
# database and key prefix; sets AUTH_PORT. Its log is RUN_DIR/NAME.log, shown when the
# service does not come up or a test fails.
start_auth() {
    local name=$1
    shift
    AUTH_PORT=$(free_port)
    env APP__SERVER__PORT="$AUTH_PORT" \
        APP__REDIS__URL="$TEST_REDIS_URL" \
        APP__MONGODB__URI="$TEST_MONGODB_URI" \
        APP__MONGODB__DATABASE="browser_${RUN_ID}_$name" \
        APP__SESSION__KEY_PREFIX="browser:$RUN_ID:$name:" \
        APP__SESSION__PER_USER=multiple \
        APP__PASSWORD__BCRYPT_COST=4 \
        APP__SIGNUP__MAX_PER_IP_PER_HOUR=100000 \
        APP__SIGNUP__MAX_PER_MINUTE=100000 \
        APP__SERVER__PUBLIC_URL="http://localhost:$AUTH_PORT" \
        RUST_LOG=warn \
        "$@" "$AUTH_BIN" >"$RUN_DIR/$name.log" 2>&1 &
    PIDS+=("$!")
    if ! wait_port "$AUTH_PORT" 30; then
        cat "$RUN_DIR/$name.log" >&2
        return 1
    fi
}

# The SMTP sink (scripts/smtp-sink.py) the main instance mails to; the recovery tests
# read the mails from MAIL_DIR.
MAIL_DIR="$RUN_DIR/mail"
SMTP_PORT=$(free_port)
"$BROWSER_VENV/bin/python" scripts/smtp-sink.py --port "$SMTP_PORT" --dir "$MAIL_DIR" \
    >"$RUN_DIR/smtp-sink.log" 2>&1 &
PIDS+=("$!")
if ! wait_port "$SMTP_PORT" 30; then
    cat "$RUN_DIR/smtp-sink.log" >&2
    exit 1
fi

start_auth main APP__MAIL__SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
MAIN_PORT=$AUTH_PORT
start_auth idle APP__SESSION__IDLE_TIMEOUT_SECONDS="$IDLE_TIMEOUT_SECONDS"
IDLE_PORT=$AUTH_PORT

mkdir -p "$REPO_ROOT/target/screenshots"
# localhost, not 127.0.0.1: browsers treat it as a secure context, so the Secure,
# __Host- cookies work over plain HTTP there.
status=0
BROWSER_BASE_URL="http://localhost:$MAIN_PORT" \
    BROWSER_IDLE_BASE_URL="http://localhost:$IDLE_PORT" \
    BROWSER_IDLE_TIMEOUT_SECONDS="$IDLE_TIMEOUT_SECONDS" \
    BROWSER_MAIL_DIR="$MAIL_DIR" \
    BROWSER_SCREENSHOT_DIR="$REPO_ROOT/target/screenshots" \
    timeout --kill-after=10 240 "$BROWSER_VENV/bin/python" tests/browser/run.py "$@" || status=$?

if [ "$status" != 0 ]; then
    for log in "$RUN_DIR"/main.log "$RUN_DIR"/idle.log; do
        echo "--- last lines of $(basename "$log")" >&2
        tail -n 30 "$log" >&2 || true
    done
    [ "$status" = 124 ] && echo "error: the browser tests took longer than 240 s" >&2
fi
echo "screenshots: target/screenshots/"
exit "$status"
