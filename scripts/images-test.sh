#!/usr/bin/env bash
# `make images-test`: builds both service images from deploy/Dockerfile for real and
# runs them, on a Debian machine as root with no registry of container images:
# - installs docker.io and mmdebstrap when missing, and starts dockerd (no bridge, no
#   iptables) when none is running, stopping it again at the end;
# - makes the two base images from Debian's packages when they are not there yet, with
#   the Debian mirrors of this host's apt sources: a builder (bookworm with rustc-web and
#   cargo-web from bookworm-security, gcc, libc6-dev, pkg-config, and this host's CA
#   bundle, which cargo needs to reach its registry from here) and a runtime (glibc,
#   libgcc, Debian's CA certificates, the user nonroot 65532:65532 as in distroless);
# - builds each service's image with the classic builder (DOCKER_BUILDKIT=0) on those
#   bases, with the host's network;
# - starts its own redis-server and SecantusDB on free loopback ports, runs both images
#   read-only as their non-root user on the host's network (listening on 127.0.0.1
#   only), walks the seed's story through them with curl (sign-up, login, /me, logout,
#   /me refused), waits for Docker's HEALTHCHECK to call both healthy, and prints the
#   image sizes and times. Containers and servers are stopped on exit, whatever happens;
#   the images stay, so a second run rebuilds only what changed.
# Logs (dockerd, the builds) go to target/images-test/.
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$REPO_ROOT"

BUILDER_IMAGE=${BUILDER_IMAGE:-session-store-base/builder:bookworm}
RUNTIME_IMAGE=${RUNTIME_IMAGE:-session-store-base/runtime:bookworm}
SUITE=bookworm
SERVICES=(auth-service resource-service)
LOG_DIR="$REPO_ROOT/target/images-test"
PASSWORD="correct horse battery"

if [ "$(id -u)" != 0 ]; then
    echo "error: make images-test installs packages and starts dockerd: run it as root" >&2
    exit 1
fi
mkdir -p "$LOG_DIR"
ensure_apt_package dockerd docker.io
ensure_apt_package mmdebstrap mmdebstrap
ensure_apt_package redis-server redis-server
ensure_apt_package curl curl
ensure_secantus

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/session-store-images-XXXXXX")
PIDS=()
CONTAINERS=()
DOCKERD_PID=""
cleanup() {
    local status=$? name
    for name in "${CONTAINERS[@]}"; do
        if [ "$status" != 0 ]; then
            echo "--- docker logs $name (last 30 lines)" >&2
            docker logs --tail 30 "$name" >&2 2>&1 || true
        fi
        docker rm -f "$name" >/dev/null 2>&1 || true
    done
    stop_pids "${PIDS[@]}"
    if [ -n "$DOCKERD_PID" ]; then
        echo "stopping the dockerd this run started (pid $DOCKERD_PID)" >&2
        stop_pids "$DOCKERD_PID"
    fi
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
started_all=$SECONDS

# --- the engine ---------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
    echo "dockerd: already running, used as it is"
else
    echo "dockerd: starting (log: $LOG_DIR/dockerd.log)"
    dockerd --bridge=none --iptables=false >"$LOG_DIR/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for ((i = 0; i < 600; i++)); do
        [ -S /var/run/docker.sock ] && docker info >/dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -n 20 "$LOG_DIR/dockerd.log" >&2; echo "error: dockerd exited" >&2; exit 1; }
        sleep 0.1
    done
    docker info >/dev/null 2>&1 || { tail -n 20 "$LOG_DIR/dockerd.log" >&2; echo "error: dockerd did not answer within 60 s" >&2; exit 1; }
fi

# --- the base images, from Debian's packages ------------------------------------------
# mirror_lines: one-line apt sources for $SUITE, $SUITE-updates and $SUITE-security, on
# the Debian mirrors this host's apt uses (its sources.list and sources.list.d, one-line
# and deb822 alike).
mirror_lines() {
    python3 - "$SUITE" <<'PY'
import glob, sys

suite = sys.argv[1]
archive = security = None


def entry(types, uris, suites, components):
    global archive, security
    if "deb" not in types:
        return
    for uri in uris:
        for s in suites:
            if s.endswith("-security") or s.endswith("/updates"):
                security = security or uri
            else:
                archive = archive or uri


files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
for path in files:
    try:
        lines = open(path).read().splitlines()
    except FileNotFoundError:
        continue
    for line in lines:
        words = line.split("#", 1)[0].split()
        if words[1:2] and words[1].startswith("["):  # deb [options] uri suite components
            while words[1:] and not words[1].endswith("]"):
                del words[1]
            del words[1]
        if len(words) >= 4 and words[0] == "deb":
            entry(["deb"], [words[1]], [words[2]], words[3:])
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(path).read().split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if fields.get("enabled", ["yes"])[0] == "no":
            continue
        entry(fields.get("types", []), fields.get("uris", []), fields.get("suites", []),
              fields.get("components", []))
if archive is None or security is None:
    sys.exit("error: this host's apt sources name no Debian archive and security mirror to reuse")
print(f"deb {archive} {suite} main")
print(f"deb {archive} {suite}-updates main")
print(f"deb {security} {suite}-security main")
PY
}

# apt_options: mmdebstrap reads none of the host's apt.conf.d; carry over the settings a
# snapshot mirror needs (its Release files are past their Valid-Until).
apt_options() {
    local key
    for key in Acquire::Check-Valid-Until Acquire::Check-Date; do
        if [ "$(apt-config dump "$key" | sed -n "s/^$key \"\(.*\)\";$/\1/p")" = false ]; then
            printf '%s\n' "--aptopt=$key \"false\""
        fi
    done
}

# make_base IMAGE WHAT FINISH MMDEBSTRAP-ARGS... -- DOCKER-IMPORT-CHANGES...: unless IMAGE
# is there, a $SUITE root by mmdebstrap into a directory, FINISH run on that directory,
# then imported as IMAGE.
make_base() {
    local image=$1 what=$2 finish=$3 started=$SECONDS log
    shift 3
    log="$LOG_DIR/mmdebstrap-${image//[:\/]/-}.log"
    local args=() changes=()
    while [ "$1" != -- ]; do args+=("$1"); shift; done
    shift
    for change in "$@"; do changes+=(--change "$change"); done
    if docker image inspect "$image" >/dev/null 2>&1; then
        echo "base image $image: present"
        return 0
    fi
    echo "base image $image: making it with mmdebstrap ($what; log: $log)"
    local mirrors options sources root="$RUN_DIR/base-root"
    sources=$(mirror_lines)
    mapfile -t mirrors <<<"$sources"
    mapfile -t options < <(apt_options)
    rm -rf "$root"
    if ! mmdebstrap "${options[@]}" "${args[@]}" "$SUITE" "$root" "${mirrors[@]}" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "error: mmdebstrap could not make $image" >&2
        exit 1
    fi
    "$finish" "$root"
    tar --numeric-owner -C "$root" -c . | docker import "${changes[@]}" - "$image" >/dev/null
    rm -rf "$root"
    echo "base image $image: made in $((SECONDS - started)) s"
}

# The host's CA bundle replaces Debian's: it is the one that lets this host (and so a
# build on its network) reach the package registries. No apt lists or cache.
finish_builder() {
    cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*
}

# Unpacked packages only (no maintainer script ran): Debian's CA certificates as the one
# bundle update-ca-certificates would write, the users root and nonroot (65532) as in
# distroless, /tmp, nonroot's home.
finish_runtime() {
    mkdir -p "$1/etc/ssl/certs" "$1/tmp" "$1/root" "$1/home/nonroot"
    cat "$1"/usr/share/ca-certificates/mozilla/*.crt >"$1/etc/ssl/certs/ca-certificates.crt"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
        >"$1/etc/passwd"
    printf 'root:x:0:\nnonroot:x:65532:\n' >"$1/etc/group"
    chmod 1777 "$1/tmp"
    chown 65532:65532 "$1/home/nonroot"
    rm -rf "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/locale "$1"/usr/share/lintian
}

PATH_ENV="ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# cargo-web and rustc-web (Rust 1.96 in bookworm-security) install cargo and rustc in
# /usr/bin.
make_base "$BUILDER_IMAGE" "Rust from Debian" finish_builder --variant=apt \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --include=ca-certificates,gcc,libc6-dev,pkg-config,rustc-web,cargo-web \
    -- "$PATH_ENV" 'CMD ["/bin/bash"]'
# What distroless/cc holds, without a package manager or a shell.
make_base "$RUNTIME_IMAGE" "glibc, libgcc, CA certificates, nonroot" finish_runtime --variant=extract \
    --include=libc6,libgcc-s1,ca-certificates \
    -- "$PATH_ENV" 'USER 65532:65532'

# --- the service images -------------------------------------------------------------
declare -A BUILD_SECONDS IMAGE PORT=([auth-service]=8080 [resource-service]=8081)
for service in "${SERVICES[@]}"; do
    IMAGE[$service]="session-store/$service:images-test"
    log="$LOG_DIR/build-$service.log"
    echo "docker build $service (classic builder; log: $log)"
    started=$SECONDS
    if ! DOCKER_BUILDKIT=0 docker build --network host -f deploy/Dockerfile \
        --build-arg SERVICE="$service" --build-arg PORT="${PORT[$service]}" \
        --build-arg BUILDER_IMAGE="$BUILDER_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
        -t "${IMAGE[$service]}" . >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "error: docker build of $service failed" >&2
        exit 1
    fi
    BUILD_SECONDS[$service]=$((SECONDS - started))
    echo "docker build $service: ${BUILD_SECONDS[$service]} s"
done

# --- run them against a private Redis and SecantusDB ----------------------------------
REDIS_PORT=$(free_port)
start_redis "$REDIS_PORT" "$RUN_DIR"
PIDS+=("$REDIS_PID")
MONGO_PORT=$(free_port)
start_mongo "$MONGO_PORT" "$RUN_DIR"
PIDS+=("$MONGO_PID")
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
MONGO_URI="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
echo "stores: redis $REDIS_URL, mongodb $MONGO_URI"

# run_image SERVICE PORT [VAR=VALUE...]: the service's image, read-only, as the image's
# own user (which must not be root), on the host's network, listening on 127.0.0.1:PORT.
run_image() {
    local service=$1 port=$2 user name
    shift 2
    user=$(docker image inspect -f '{{.Config.User}}' "${IMAGE[$service]}")
    case "$user" in
        "" | 0 | 0:* | root | root:*)
            echo "error: ${IMAGE[$service]} runs as root (USER '$user')" >&2
            exit 1
            ;;
    esac
    name="images-test-$service-$$"
    local env=(-e APP__SERVER__HOST=127.0.0.1 -e APP__SERVER__PORT="$port" -e APP__REDIS__URL="$REDIS_URL")
    local kv
    for kv in "$@"; do env+=(-e "$kv"); done
    CONTAINERS+=("$name")
    docker run -d --name "$name" --network host --read-only --user "$user" "${env[@]}" \
        "${IMAGE[$service]}" >/dev/null
    if ! wait_port "$port" 30; then
        echo "error: $service in its container did not listen on 127.0.0.1:$port" >&2
        exit 1
    fi
    echo "$service: container $name as user $user, read-only root, on 127.0.0.1:$port"
}

AUTH_PORT=$(free_port)
run_image auth-service "$AUTH_PORT" APP__MONGODB__URI="$MONGO_URI" APP__MONGODB__DATABASE="images_test_$$"
RESOURCE_PORT=$(free_port)
run_image resource-service "$RESOURCE_PORT" APP__AUTH_SERVICE__URL="http://127.0.0.1:$AUTH_PORT"
AUTH="http://127.0.0.1:$AUTH_PORT"
RESOURCE="http://127.0.0.1:$RESOURCE_PORT"

# call EXPECTED-STATUS WHAT CURL-ARGS...: one request; fails unless it answers EXPECTED.
call() {
    local expected=$1 what=$2 out status
    shift 2
    out=$(curl -s -w '\n%{http_code}' "$@")
    status=${out##*$'\n'}
    BODY=${out%$'\n'*}
    if [ "$status" != "$expected" ]; then
        echo "error: $what: HTTP $status, expected $expected: $BODY" >&2
        exit 1
    fi
    echo "  $what: HTTP $status"
}
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

EMAIL="images-test-$$-$RANDOM@example.com"
CREDENTIALS="{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"
echo "the seed's story through the containers:"
call 201 "POST /signup (auth-service)" -X POST "$AUTH/signup" -H 'Content-Type: application/json' -d "$CREDENTIALS"
call 200 "POST /login (auth-service)" -X POST "$AUTH/login" -H 'Content-Type: application/json' -d "$CREDENTIALS"
TOKEN=$(echo "$BODY" | json token)
call 200 "GET /me (resource-service)" "$RESOURCE/me" -H "Authorization: Bearer $TOKEN"
[ "$(echo "$BODY" | json email)" = "$EMAIL" ] || { echo "error: GET /me answered another email: $BODY" >&2; exit 1; }
call 204 "POST /logout (auth-service)" -X POST "$AUTH/logout" -H "Authorization: Bearer $TOKEN"
call 401 "GET /me after logout (resource-service)" "$RESOURCE/me" -H "Authorization: Bearer $TOKEN"

# Docker runs the image's HEALTHCHECK (the binary's own healthcheck subcommand) every 10 s.
started=$SECONDS
for name in "${CONTAINERS[@]}"; do
    while :; do
        health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$name")
        [ "$health" = healthy ] && break
        if [ "$health" = unhealthy ] || [ "$health" = none ] || [ $((SECONDS - started)) -gt 60 ]; then
            docker inspect -f '{{json .State.Health}}' "$name" >&2
            echo "error: $name: HEALTHCHECK says $health" >&2
            exit 1
        fi
        sleep 1
    done
    echo "$name: HEALTHCHECK healthy"
done

echo "images (on $BUILDER_IMAGE and $RUNTIME_IMAGE):"
for service in "${SERVICES[@]}"; do
    bytes=$(docker image inspect -f '{{.Size}}' "${IMAGE[$service]}")
    echo "  ${IMAGE[$service]}: $((bytes / 1000000)) MB, built in ${BUILD_SECONDS[$service]} s"
done
bytes=$(docker image inspect -f '{{.Size}}' "$RUNTIME_IMAGE")
echo "  (of which the runtime base $RUNTIME_IMAGE: $((bytes / 1000000)) MB)"
echo "images-test: passed in $((SECONDS - started_all)) s"
