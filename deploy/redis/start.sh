#!/bin/sh
# Starts redis-server with the users of the ACL rules and their passwords from the
# environment (user auth-service -> REDIS_AUTH_SERVICE_PASSWORD), AOF on. Used by
# docker-compose as the command of every Redis container; later arguments are passed
# on to redis-server.
#
#   ACL_RULES          the rules file, or several separated by ':' (default
#                      /etc/redis/acl-rules.txt; the replicated topologies add
#                      acl-rules-replicated.txt)
#   ACL_FILE           the ACL file written (default /tmp/users.acl); a config file, when
#                      one is needed, is written beside it
#   REDIS_MASTERUSER   the user this server logs in as to its master (replicas, every
#                      Cluster node, both Sentinel data nodes: masteruser/masterauth),
#                      or, for a sentinel, to the servers it monitors and to the other
#                      sentinels; its password is that user's REDIS_<USER>_PASSWORD
#   SENTINEL_CONFIG    run a sentinel instead (deploy/redis/sentinel.conf): that file,
#                      the credentials above and the users, in one config file that
#                      Sentinel rewrites as it learns
#   SENTINEL_ANNOUNCE_HOSTNAME  the name the other sentinels and the clients reach this
#                      sentinel by (sentinel announce-ip)
#
# A password never reaches Redis's rule parser: the ACL holds its SHA-256 as a
# "#<hex>" rule, so a password with spaces or rule syntax (">x", "nopass", "+@all")
# is just a password. The replication password has to be in clear in the config file
# (mode 600, quoted); it is never on a command line. An empty, short (< 32 characters)
# or placeholder password is refused, naming the variable and never printing the value.
set -eu
rules=${ACL_RULES:-/etc/redis/acl-rules.txt}
acl=${ACL_FILE:-/tmp/users.acl}
tmp="$acl.tmp"
dir=$(dirname "$acl")
min_length=32
nl='
'

fail() {
    rm -f "$tmp" "$dir/redis.conf.tmp" "$dir/sentinel.conf.tmp"
    echo "error: $*" >&2
    exit 1
}

# quoted VALUE: VALUE as a double-quoted string of Redis's config syntax.
quoted() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# users_from FILE: appends a "user <name> on #<sha256> <rules>" line to $tmp for every
# user in FILE; keeps the password of REDIS_MASTERUSER in master_pass.
users_from() {
    [ -r "$1" ] || fail "cannot read the ACL rules file $1"
    while read -r user rest || [ -n "$user" ]; do
        case "$user" in '' | '#'*) continue ;; esac
        case "$user" in
            *[!a-z0-9-]*) fail "$1: user name '$user' may hold only a-z, 0-9 and '-'" ;;
        esac
        if grep -q "^user $user " "$tmp"; then
            fail "$1: user $user is defined twice in $rules"
        fi
        var=$(echo "REDIS_${user}_PASSWORD" | tr 'a-z-' 'A-Z_')
        eval "pass=\${$var:-}"
        if [ -z "$pass" ]; then
            fail "$var is not set or empty"
        fi
        if [ "${#pass}" -lt "$min_length" ]; then
            fail "$var is shorter than $min_length characters; make one with: openssl rand -hex 32"
        fi
        case "$pass" in
            *replace-me*) fail "$var still holds the placeholder of .env.example; make one with: openssl rand -hex 32" ;;
        esac
        if [ "$user" = "${REDIS_MASTERUSER:-}" ]; then
            case "$pass" in
                *"$nl"*) fail "$var holds a line break; it cannot go into a config file" ;;
            esac
            master_pass=$pass
        fi
        # printf is a shell builtin: the password is in no process's arguments.
        hash=$(printf '%s' "$pass" | sha256sum | cut -d' ' -f1)
        printf 'user %s on #%s %s\n' "$user" "$hash" "$rest" >>"$tmp"
    done <"$1"
}

command -v sha256sum >/dev/null 2>&1 || fail "sha256sum is missing; it hashes the ACL passwords"

umask 077
echo "user default off" >"$tmp"
master_pass=""
saved_ifs=$IFS
IFS=:
set -f
for file in $rules; do
    IFS=$saved_ifs
    users_from "$file"
done
IFS=$saved_ifs
set +f
unset pass
if [ -n "${REDIS_MASTERUSER:-}" ] && [ -z "$master_pass" ]; then
    fail "REDIS_MASTERUSER is $REDIS_MASTERUSER, a user none of $rules defines"
fi

if [ -n "${SENTINEL_CONFIG:-}" ]; then
    [ -r "$SENTINEL_CONFIG" ] || fail "cannot read the Sentinel config $SENTINEL_CONFIG"
    master=$(awk '$1 == "sentinel" && $2 == "monitor" { print $3; exit }' "$SENTINEL_CONFIG")
    [ -n "$master" ] || fail "$SENTINEL_CONFIG has no 'sentinel monitor <name> <host> <port> <quorum>' line"
    announce=${SENTINEL_ANNOUNCE_HOSTNAME:-}
    case "$announce" in
        *[!a-z0-9.-]*) fail "SENTINEL_ANNOUNCE_HOSTNAME may hold only a-z, 0-9, '.' and '-'" ;;
    esac
    conf="$dir/sentinel.conf"
    {
        cat "$SENTINEL_CONFIG"
        echo
        echo "# Written by deploy/redis/start.sh; Sentinel adds what it learns below."
        if [ -n "$announce" ]; then
            echo "sentinel announce-ip $announce"
        fi
        if [ -n "${REDIS_MASTERUSER:-}" ]; then
            echo "sentinel auth-user $master $REDIS_MASTERUSER"
            printf 'sentinel auth-pass %s %s\n' "$master" "$(quoted "$master_pass")"
            echo "sentinel sentinel-user $REDIS_MASTERUSER"
            printf 'sentinel sentinel-pass %s\n' "$(quoted "$master_pass")"
        fi
        cat "$tmp"
    } >"$conf.tmp"
    rm -f "$tmp"
    mv "$conf.tmp" "$conf"
    unset master_pass
    exec redis-server "$conf" --sentinel "$@"
fi

mv "$tmp" "$acl"
if [ -n "${REDIS_MASTERUSER:-}" ]; then
    conf="$dir/redis.conf"
    {
        echo "# Written by deploy/redis/start.sh: how this server logs in to its master."
        echo "masteruser $REDIS_MASTERUSER"
        printf 'masterauth %s\n' "$(quoted "$master_pass")"
    } >"$conf.tmp"
    mv "$conf.tmp" "$conf"
    unset master_pass
    exec redis-server "$conf" --aclfile "$acl" --appendonly yes --appendfsync everysec "$@"
fi
exec redis-server --aclfile "$acl" --appendonly yes --appendfsync everysec "$@"
