#!/bin/sh
# Starts redis-server with the users of acl-rules.txt and their passwords from the
# environment (REDIS_AUTH_SERVICE_PASSWORD, REDIS_RESOURCE_SERVICE_PASSWORD), AOF on.
# Used by docker-compose as the redis container's command; later arguments are passed
# on to redis-server. ACL_RULES names the rules file, ACL_FILE the ACL file written.
#
# A password never reaches Redis's rule parser: the ACL file holds its SHA-256 as a
# "#<hex>" rule, so a password with spaces or rule syntax (">x", "nopass", "+@all")
# is just a password. An empty, short (< 32 characters) or placeholder password is
# refused, naming the variable and never printing the value.
set -eu
rules=${ACL_RULES:-/etc/redis/acl-rules.txt}
acl=${ACL_FILE:-/tmp/users.acl}
tmp="$acl.tmp"
min_length=32

fail() {
    rm -f "$tmp"
    echo "error: $*" >&2
    exit 1
}

command -v sha256sum >/dev/null 2>&1 || fail "sha256sum is missing; it hashes the ACL passwords"
[ -r "$rules" ] || fail "cannot read the ACL rules file $rules"

umask 077
echo "user default off" >"$tmp"
while read -r user rest || [ -n "$user" ]; do
    case "$user" in '' | '#'*) continue ;; esac
    case "$user" in
        *[!a-z0-9-]*) fail "$rules: user name '$user' may hold only a-z, 0-9 and '-'" ;;
    esac
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
    # printf is a shell builtin: the password is in no process's arguments.
    hash=$(printf '%s' "$pass" | sha256sum | cut -d' ' -f1)
    echo "user $user on #$hash $rest" >>"$tmp"
done <"$rules"
unset pass
mv "$tmp" "$acl"
exec redis-server --aclfile "$acl" --appendonly yes --appendfsync everysec "$@"
