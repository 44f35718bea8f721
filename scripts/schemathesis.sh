#!/usr/bin/env bash
# Schemathesis against both running services, from their COMMITTED OpenAPI documents
# (docs/openapi/*.json): examples, coverage (positive and negative cases), fuzzing and
# the stateful phase along the documents' links (sign-up -> login -> session / logout),
# with the checks not_a_server_error, status_code_conformance,
# content_type_conformance and response_schema_conformance. Exits non-zero when
# Schemathesis finds a failure.
#
# Installs the pinned Schemathesis into .venv-tools; builds the services (debug) and
# starts them on free ports against the stores in TEST_REDIS_URL / TEST_MONGODB_URI when
# both are set (as scripts/test.sh exports them), else a private Redis and SecantusDB.
# Bounded by the examples per operation (SCHEMATHESIS_MAX_EXAMPLES, default 100) and the
# stateful steps; the whole run takes a few minutes on 2 cores. Reports (JUnit, NDJSON)
# and the services' logs go to target/schemathesis/.
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$REPO_ROOT"

SCHEMATHESIS_VERSION="4.32.5"
# Validates the documents against the OpenAPI 3.1 schema before they are used.
OPENAPI_SPEC_VALIDATOR_VERSION="0.9.0"
TOOLS_VENV="$REPO_ROOT/.venv-tools"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
REPORT_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/schemathesis"

# Makes sure .venv-tools holds Schemathesis and openapi-spec-validator at the pinned
# versions.
ensure_schemathesis() {
    local installed=""
    if [ -x "$TOOLS_VENV/bin/schemathesis" ] && [ -x "$TOOLS_VENV/bin/openapi-spec-validator" ]; then
        installed=$("$TOOLS_VENV/bin/pip" freeze 2>/dev/null || true)
    fi
    if [[ "$installed" == *"schemathesis==$SCHEMATHESIS_VERSION"* ]] &&
        [[ "$installed" == *"openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"* ]]; then
        return 0
    fi
    echo "installing schemathesis $SCHEMATHESIS_VERSION into .venv-tools" >&2
    python3 -m venv "$TOOLS_VENV" >&2 &&
        "$TOOLS_VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" \
            "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" >&2
}
ensure_schemathesis

"$TOOLS_VENV/bin/openapi-spec-validator" docs/openapi/auth-service.json docs/openapi/resource-service.json

if [ -n "${TEST_REDIS_URL:-}" ] && [ -n "${TEST_MONGODB_URI:-}" ]; then
    RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/schemathesis-XXXXXX")
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

# The same build as scripts/test.sh's (so nothing is rebuilt when it calls this script).
cargo build --workspace --bins
BIN_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug"
rm -rf "$REPORT_DIR"
mkdir -p "$REPORT_DIR"

RUN_ID=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
RANDOM_SECRET() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
export SCHEMATHESIS_INTERNAL_TOKEN="internal-$(RANDOM_SECRET)"
export SCHEMATHESIS_ADMIN_TOKEN="admin-$(RANDOM_SECRET)"
JWT_SECRET="jwt-$(RANDOM_SECRET)"
# Both services share the stores, the key prefix and the secrets; the limits that
# would make most requests 429 after a few dozen (every test comes from 127.0.0.1) are
# lifted, and bcrypt is cheap. The limits themselves have tests of their own.
SHARED_ENV=(
    APP__REDIS__URL="$TEST_REDIS_URL"
    APP__SESSION__KEY_PREFIX="schemathesis:$RUN_ID:"
    APP__JWT__SECRET="$JWT_SECRET"
    APP__INTERNAL__TOKEN="$SCHEMATHESIS_INTERNAL_TOKEN"
    RUST_LOG=warn
)

# start NAME PORT [VAR=VALUE...]: the debug binary NAME on 127.0.0.1:PORT; its log is
# REPORT_DIR/NAME.log, shown when it does not come up.
start() {
    local name=$1 port=$2
    shift 2
    env APP__SERVER__PORT="$port" "${SHARED_ENV[@]}" "$@" "$BIN_DIR/$name" \
        >"$REPORT_DIR/$name.log" 2>&1 &
    PIDS+=("$!")
    if ! wait_port "$port" 30; then
        cat "$REPORT_DIR/$name.log" >&2
        return 1
    fi
}

AUTH_PORT=$(free_port)
# Mail on, so the recovery endpoints and pages are there to test; to a port nothing
# listens on (a mail the runs cause is tried, fails and is dropped; no answer changes).
start auth-service "$AUTH_PORT" \
    APP__MONGODB__URI="$TEST_MONGODB_URI" \
    APP__MONGODB__DATABASE="schemathesis_$RUN_ID" \
    APP__ADMIN__TOKEN="$SCHEMATHESIS_ADMIN_TOKEN" \
    APP__PASSWORD__BCRYPT_COST=4 \
    APP__SIGNUP__MAX_PER_IP_PER_HOUR=1000000 \
    APP__SIGNUP__MAX_PER_MINUTE=1000000 \
    APP__LOGIN__MAX_FAILURES_PER_EMAIL=1000000 \
    APP__LOGIN__MAX_FAILURES_PER_IP_PER_MINUTE=1000000 \
    APP__RECOVERY__MAX_PER_IP_PER_HOUR=1000000 \
    APP__MAIL__SMTP_URL="smtp://127.0.0.1:$(free_port)"
RESOURCE_PORT=$(free_port)
start resource-service "$RESOURCE_PORT"
AUTH_URL="http://127.0.0.1:$AUTH_PORT"
RESOURCE_URL="http://127.0.0.1:$RESOURCE_PORT"

# sign_up_and_log_in EMAIL PASSWORD: a real user; prints its session token.
sign_up_and_log_in() {
    local body="{\"email\":\"$1\",\"password\":\"$2\"}"
    curl -sf -o /dev/null -H 'Content-Type: application/json' -d "$body" "$AUTH_URL/signup"
    curl -sf -H 'Content-Type: application/json' -d "$body" "$AUTH_URL/login" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
# The auth-service run logs this user in (again) whenever a test ended its session.
export SCHEMATHESIS_EMAIL="schemathesis-$RUN_ID@example.com"
export SCHEMATHESIS_PASSWORD="password-$(RANDOM_SECRET)"
sign_up_and_log_in "$SCHEMATHESIS_EMAIL" "$SCHEMATHESIS_PASSWORD" >/dev/null
# The resource-service run presents another user's session, which nothing ends.
SCHEMATHESIS_TOKEN=$(sign_up_and_log_in "resource-$RUN_ID@example.com" "password-$(RANDOM_SECRET)")
export SCHEMATHESIS_TOKEN

status=0
# run NAME URL: Schemathesis against service NAME at URL, from its committed document.
run() {
    local name=$1 url=$2
    echo "== schemathesis: $name ($url), from docs/openapi/$name.json"
    "$TOOLS_VENV/bin/schemathesis" --config-file "scripts/schemathesis/$name.toml" \
        run "docs/openapi/$name.json" \
        --url "$url" \
        --phases examples,coverage,fuzzing,stateful \
        --max-examples "$MAX_EXAMPLES" \
        --workers 2 \
        --request-timeout 10 \
        --suppress-health-check all \
        --report junit,ndjson \
        --report-dir "$REPORT_DIR" \
        --report-junit-path "$REPORT_DIR/$name.junit.xml" \
        --report-ndjson-path "$REPORT_DIR/$name.ndjson" ||
        status=1
}
run auth-service "$AUTH_URL"
run resource-service "$RESOURCE_URL"

if [ "$status" -ne 0 ]; then
    echo "schemathesis found failures (reports and the services' logs: $REPORT_DIR)" >&2
fi
exit "$status"
