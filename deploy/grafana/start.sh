#!/bin/sh
# Entrypoint of compose's grafana service: refuses to start Grafana with the default
# admin password (an unset GRAFANA_ADMIN_PASSWORD would leave admin/admin), a short
# one or the placeholder of .env.example, then runs the image's own /run.sh.
set -eu
pass=${GF_SECURITY_ADMIN_PASSWORD:-}
fail() {
    echo "error: $*" >&2
    exit 1
}
[ -n "$pass" ] || fail "GRAFANA_ADMIN_PASSWORD is not set in .env; make one with: openssl rand -hex 32"
[ "${#pass}" -ge 16 ] || fail "GRAFANA_ADMIN_PASSWORD is shorter than 16 characters; make one with: openssl rand -hex 32"
case "$pass" in
    *replace-me*) fail "GRAFANA_ADMIN_PASSWORD still holds the placeholder of .env.example; make one with: openssl rand -hex 32" ;;
esac
unset pass
exec /run.sh "$@"
