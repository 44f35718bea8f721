#!/bin/sh
# Starts redis-server with the users of acl-rules.txt and their passwords from the
# environment (REDIS_AUTH_SERVICE_PASSWORD, REDIS_RESOURCE_SERVICE_PASSWORD), AOF on.
# Used by docker-compose as the redis container's command.
set -eu
rules=${ACL_RULES:-/etc/redis/acl-rules.txt}
acl=${ACL_FILE:-/tmp/users.acl}
umask 077
echo "user default off" >"$acl"
while read -r user rest; do
    case "$user" in '' | '#'*) continue ;; esac
    var=$(echo "REDIS_${user}_PASSWORD" | tr 'a-z-' 'A-Z_')
    eval "pass=\${$var:-}"
    if [ -z "$pass" ]; then
        echo "error: $var is not set" >&2
        exit 1
    fi
    echo "user $user on >$pass $rest" >>"$acl"
done <"$rules"
exec redis-server --aclfile "$acl" --appendonly yes --appendfsync everysec "$@"
