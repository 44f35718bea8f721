#!/usr/bin/env bash
# `make demo`: walks the seed's story against a running stack with curl, printing each
# request and answer. Act 1 (the stack as make run started it, session.per_user = single):
# sign-up, login, /me, login again, logout, /me refused. Act 2 starts a second pair of
# services with session.per_user = multiple against the same stores: two devices log in,
# the first lists both and signs the second out, the second is refused. Act 3 (back on
# make run's stack, which mails to its SMTP sink in .run/mail/): a forgotten password:
# forgot, the mail, the reset, the old session refused, sign in with the new password.
set -euo pipefail
source "$(dirname "$0")/services.sh"
AUTH=${AUTH_URL:-http://127.0.0.1:8080}
RESOURCE=${RESOURCE_URL:-http://127.0.0.1:8081}
MAIN_AUTH=$AUTH
MAIN_RESOURCE=$RESOURCE
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
echo "act 1 finished: every step answered as the contract says"
echo

STORES="$REPO_ROOT/.run/stores.env"
if [ ! -f "$STORES" ] || [ ! -x "$REPO_ROOT/target/release/auth-service" ]; then
    echo "act 2 needs the stores of make run (.run/stores.env) and its release binaries; skipped" >&2
    exit 1
fi
echo "## act 2: sessions per device (session.per_user = multiple)"
set -a
# shellcheck disable=SC1090
source "$STORES"
set +a
AUTH2_PORT=$(free_port)
RESOURCE2_PORT=$(free_port)
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/session-demo-XXXXXX")
DEMO_PIDS=()
trap 'stop_pids "${DEMO_PIDS[@]}"; rm -rf "$LOGS"' EXIT
MULTIPLE=(APP__SESSION__PER_USER=multiple APP__SESSION__KEY_PREFIX="demo-multiple:")
start_service auth-service "$AUTH2_PORT" "$LOGS/auth.log" "${MULTIPLE[@]}"
DEMO_PIDS+=("$SERVICE_PID")
start_service resource-service "$RESOURCE2_PORT" "$LOGS/resource.log" "${MULTIPLE[@]}" \
    APP__AUTH_SERVICE__URL="http://127.0.0.1:$AUTH2_PORT"
DEMO_PIDS+=("$SERVICE_PID")
AUTH="http://127.0.0.1:$AUTH2_PORT"
RESOURCE="http://127.0.0.1:$RESOURCE2_PORT"
echo "(a second auth-service on $AUTH and resource-service on $RESOURCE)"
echo
EMAIL="demo-$(date +%s)-$RANDOM@example.com"
LOGIN="{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"

step "7. sign up" -X POST "$AUTH/signup" -H 'Content-Type: application/json' -d "$LOGIN"
[ "$STATUS" = 201 ] || exit 1
step "8. log in on a laptop" -X POST "$AUTH/login" -H 'Content-Type: application/json' \
    -H 'User-Agent: demo-laptop' -d "$LOGIN"
[ "$STATUS" = 200 ] || exit 1
LAPTOP=$(echo "$BODY" | json token)
step "9. log in on a phone: a session of its own" -X POST "$AUTH/login" \
    -H 'Content-Type: application/json' -H 'User-Agent: demo-phone' -d "$LOGIN"
[ "$STATUS" = 200 ] || exit 1
PHONE=$(echo "$BODY" | json token)
PHONE_SESSION=$(echo "$BODY" | json sessionId)
[ "$PHONE" != "$LAPTOP" ] || { echo "error: the phone got the laptop's token" >&2; exit 1; }
step "10. both devices are let in" "$RESOURCE/me" -H "Authorization: Bearer $PHONE"
[ "$STATUS" = 200 ] || exit 1
step "11. the laptop lists where the user is signed in" "$AUTH/sessions" -H "Authorization: Bearer $LAPTOP"
[ "$STATUS" = 200 ] || exit 1
COUNT=$(echo "$BODY" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["sessions"]))')
[ "$COUNT" = 2 ] || { echo "error: expected two sessions, got $COUNT" >&2; exit 1; }
step "12. the laptop signs the phone out" -X DELETE "$AUTH/sessions/$PHONE_SESSION" \
    -H "Authorization: Bearer $LAPTOP"
[ "$STATUS" = 204 ] || exit 1
step "13. the phone is refused" "$RESOURCE/me" -H "Authorization: Bearer $PHONE"
[ "$STATUS" = 401 ] || exit 1
step "14. the laptop still gets in" "$RESOURCE/me" -H "Authorization: Bearer $LAPTOP"
[ "$STATUS" = 200 ] || exit 1
echo "act 2 finished: every step answered as the contract says"
echo

echo "## act 3: a forgotten password (make run's stack, mail to .run/mail/)"
AUTH=$MAIN_AUTH
RESOURCE=$MAIN_RESOURCE
MAIL_DIR="$REPO_ROOT/.run/mail"
[ -d "$MAIL_DIR" ] || { echo "error: no .run/mail/: act 3 needs make run's SMTP sink" >&2; exit 1; }
EMAIL="demo-$(date +%s)-$RANDOM@example.com"
NEW_PASSWORD="battery staple horse"
step "15. sign up" -X POST "$AUTH/signup" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"
[ "$STATUS" = 201 ] || exit 1
step "16. log in" -X POST "$AUTH/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"
[ "$STATUS" = 200 ] || exit 1
OLD_TOKEN=$(echo "$BODY" | json token)
step "17. forgot the password: 202 whether or not the account exists" -X POST "$AUTH/password/forgot" \
    -H 'Content-Type: application/json' -d "{\"email\":\"$EMAIL\"}"
[ "$STATUS" = 202 ] || exit 1
echo "### 18. the mail arrives in .run/mail/"
# The newest mail to EMAIL: its file and the token of its /reset link.
read_mail() {
    python3 - "$MAIL_DIR" "$EMAIL" <<'PY'
import email, email.policy, os, re, sys
folder, to = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(folder), reverse=True):
    if not name.endswith(".eml"):
        continue
    with open(os.path.join(folder, name), "rb") as raw:
        mail = email.message_from_binary_file(raw, policy=email.policy.default)
    if mail["To"] == to:
        text = mail.get_body(preferencelist=("plain",)).get_content()
        match = re.search(r"/reset#token=([A-Za-z0-9_-]{43})", text)
        print(name, match.group(1) if match else "")
        break
PY
}
MAIL=""
for _ in $(seq 1 50); do
    MAIL=$(read_mail)
    [ -n "$MAIL" ] && break
    sleep 0.2
done
[ -n "$MAIL" ] || { echo "error: no mail to $EMAIL in .run/mail/ within 10 s" >&2; exit 1; }
RESET_TOKEN=${MAIL#* }
echo ".run/mail/${MAIL%% *}: a reset link with a token of ${#RESET_TOKEN} characters"
echo
step "19. reset the password with the mailed token" -X POST "$AUTH/password/reset" \
    -H 'Content-Type: application/json' -d "{\"token\":\"$RESET_TOKEN\",\"newPassword\":\"$NEW_PASSWORD\"}"
[ "$STATUS" = 204 ] || exit 1
step "20. the session from before the reset is refused" "$RESOURCE/me" -H "Authorization: Bearer $OLD_TOKEN"
[ "$STATUS" = 401 ] || exit 1
step "21. the old password is refused" -X POST "$AUTH/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"
[ "$STATUS" = 401 ] || exit 1
step "22. sign in with the new password" -X POST "$AUTH/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$NEW_PASSWORD\"}"
[ "$STATUS" = 200 ] || exit 1
NEW_TOKEN=$(echo "$BODY" | json token)
step "23. the new session gets in" "$RESOURCE/me" -H "Authorization: Bearer $NEW_TOKEN"
[ "$STATUS" = 200 ] || exit 1
echo "demo finished: every step answered as the contract says"
