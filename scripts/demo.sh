#!/usr/bin/env bash
# `make demo`: walks the seed's story against a running stack with curl, printing each
# request and answer: sign-up, login, /me, login again, logout, /me refused.
set -euo pipefail
AUTH=${AUTH_URL:-http://127.0.0.1:8080}
RESOURCE=${RESOURCE_URL:-http://127.0.0.1:8081}
EMAIL="demo-$(date +%s)-$RANDOM@example.com"
PASSWORD="correct horse battery"

curl -fs "$AUTH/health/live" >/dev/null || { echo "error: nothing answers at $AUTH; start the stack first: make run" >&2; exit 1; }

# step TITLE CURL-ARGS...: prints the request, then the status and body of the answer.
step() {
    local title=$1
    shift
    echo "### $title"
    local shown="" arg
    for arg in "$@"; do
        if [[ "$arg" =~ ^[A-Za-z0-9_./:=-]+$ ]]; then shown+=" $arg"; else shown+=" '$arg'"; fi
    done
    echo "\$ curl$shown"
    local out status
    out=$(curl -s -w '\n%{http_code}' "$@")
    status=${out##*$'\n'}
    BODY=${out%$'\n'*}
    echo "HTTP $status"
    [ -n "$BODY" ] && echo "$BODY"
    echo
    STATUS=$status
}

json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

step "1. sign up" -X POST "$AUTH/signup" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"
[ "$STATUS" = 201 ] || exit 1
step "2. log in" -X POST "$AUTH/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"
[ "$STATUS" = 200 ] || exit 1
TOKEN=$(echo "$BODY" | json token)
step "3. the resource-service knows who we are" "$RESOURCE/me" -H "Authorization: Bearer $TOKEN"
[ "$STATUS" = 200 ] || exit 1
step "4. log in again: the same session comes back (reused: true)" -X POST "$AUTH/login" \
    -H 'Content-Type: application/json' -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"
[ "$(echo "$BODY" | json token)" = "$TOKEN" ] || { echo "error: login again returned another token" >&2; exit 1; }
step "5. log out" -X POST "$AUTH/logout" -H "Authorization: Bearer $TOKEN"
[ "$STATUS" = 204 ] || exit 1
step "6. the old token is refused everywhere at once" "$RESOURCE/me" -H "Authorization: Bearer $TOKEN"
[ "$STATUS" = 401 ] || exit 1
echo "demo finished: every step answered as the contract says"
