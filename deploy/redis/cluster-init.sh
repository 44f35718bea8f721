#!/bin/sh
# The init step of deploy/compose/cluster.yml: makes the six nodes one Redis Cluster,
# three masters with a replica each (redis-cli --cluster create --cluster-replicas 1),
# then waits until every node says cluster_state:ok. Logs in as the admin user of
# acl-rules-replicated.txt (REDIS_ADMIN_PASSWORD, passed to redis-cli through
# REDISCLI_AUTH, never on a command line). Nothing to do when the nodes already form a
# cluster, so it may run again on every `docker-compose up`.
#
#   REDIS_CLUSTER_NODES  the nodes, host:port separated by spaces or commas; with
#                        --cluster-replicas 1 redis-cli pairs them into masters and
#                        replicas on different hosts where it can
#   CLUSTER_WAIT_SECONDS how long to wait for the nodes, then for the cluster (default 60)
set -eu

fail() {
    echo "error: $*" >&2
    exit 1
}

[ -n "${REDIS_ADMIN_PASSWORD:-}" ] || fail "REDIS_ADMIN_PASSWORD is not set or empty"
nodes=$(echo "${REDIS_CLUSTER_NODES:-}" | tr ',' ' ')
[ -n "$nodes" ] || fail "REDIS_CLUSTER_NODES names no node"
wait_seconds=${CLUSTER_WAIT_SECONDS:-60}
export REDISCLI_AUTH="$REDIS_ADMIN_PASSWORD"

# admin HOST:PORT COMMAND...: a command as the admin user.
admin() {
    node=$1
    shift
    redis-cli --no-auth-warning --user admin -h "${node%:*}" -p "${node##*:}" "$@"
}

# address HOST:PORT: the node as IPv4:PORT (CLUSTER MEET takes addresses, not names).
address() {
    host=${1%:*}
    ip=$(getent ahostsv4 "$host" | awk 'NR == 1 { print $1 }')
    [ -n "$ip" ] || fail "cannot resolve $host"
    echo "$ip:${1##*:}"
}

count=0
for node in $nodes; do
    count=$((count + 1))
    i=0
    until [ "$(admin "$node" PING 2>/dev/null)" = PONG ]; do
        i=$((i + 1))
        [ "$i" -le "$wait_seconds" ] || fail "$node does not answer PING as the admin user"
        sleep 1
    done
done
[ "$count" -ge 6 ] || fail "a cluster of masters with one replica each needs at least 6 nodes, REDIS_CLUSTER_NODES has $count"

first=$(echo "$nodes" | awk '{ print $1 }')
known=$(admin "$first" CLUSTER INFO | tr -d '\r' | awk -F: '$1 == "cluster_known_nodes" { print $2 }')
if [ "${known:-1}" -gt 1 ]; then
    echo "$first already knows $known nodes: the cluster exists, nothing to create"
else
    addresses=""
    for node in $nodes; do
        addresses="$addresses $(address "$node")"
    done
    echo "creating the cluster of$addresses"
    # shellcheck disable=SC2086 # one argument per node
    redis-cli --no-auth-warning --user admin --cluster create $addresses \
        --cluster-replicas 1 --cluster-yes
fi

for node in $nodes; do
    i=0
    until admin "$node" CLUSTER INFO | tr -d '\r' | grep -qx 'cluster_state:ok'; do
        i=$((i + 1))
        [ "$i" -le "$wait_seconds" ] || fail "$node does not report cluster_state:ok"
        sleep 1
    done
done
echo "cluster_state:ok on all $count nodes"
