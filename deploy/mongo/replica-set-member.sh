#!/bin/sh
# Entrypoint of every MongoDB of deploy/compose/mongo-replica-set.yml: writes the
# replica set's shared key (MONGO_REPLICA_SET_KEY, with which the members authenticate
# to each other) to a key file only mongod may read, then runs the image's own
# entrypoint with mongod as a member of the replica set MONGO_REPLICA_SET (default
# rs0). The image's first-start steps (the root user, /docker-entrypoint-initdb.d) run
# as before, on a member whose volume is empty and which has MONGO_INITDB_ROOT_*.
# Later arguments are passed on to mongod.
set -eu
key_file=/tmp/mongo-replica-set.key
key=${MONGO_REPLICA_SET_KEY:-}
unset MONGO_REPLICA_SET_KEY

fail() {
    echo "error: $*" >&2
    exit 1
}

# MongoDB takes 6 to 1024 base64 characters; ours are hex, like every other secret.
[ -n "$key" ] || fail "MONGO_REPLICA_SET_KEY is not set or empty"
[ "${#key}" -ge 32 ] || fail "MONGO_REPLICA_SET_KEY is shorter than 32 characters; make one with: openssl rand -hex 32"
case "$key" in
    *replace-me*) fail "MONGO_REPLICA_SET_KEY still holds the placeholder of .env.example; make one with: openssl rand -hex 32" ;;
    *[!0-9a-f]*) fail "MONGO_REPLICA_SET_KEY may hold only hex digits (openssl rand -hex 32)" ;;
esac
umask 077
printf '%s\n' "$key" >"$key_file"
unset key
chown mongodb:mongodb "$key_file"
chmod 400 "$key_file"
exec docker-entrypoint.sh mongod --replSet "${MONGO_REPLICA_SET:-rs0}" --keyFile "$key_file" --bind_ip_all "$@"
