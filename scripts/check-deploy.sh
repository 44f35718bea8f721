#!/usr/bin/env bash
# What CI can check of the deployment without a Docker engine or a cluster:
# - docker-compose accepts the file, and for every image it builds (deploy/Dockerfile
#   once per SERVICE build argument) the COPY sources, the cargo package, the binary and
#   the ENTRYPOINT / HEALTHCHECK paths exist; SERVICE must name a workspace binary and
#   PORT the port that compose publishes; the files compose mounts exist;
# - every manifest under deploy/k8s is valid for the Kubernetes versions below
#   (kubernetes-validate --strict, offline), kustomization.yaml lists them, and they
#   agree with each other and with the services (ports, probes, security context,
#   Secrets and ConfigMaps referenced, configuration keys the services know);
# - deploy/nginx/gateway.conf.template, rendered as the nginx image renders it, passes
#   `nginx -t`, and its placeholders are the environment of compose's gateway service
#   (deploy/traefik and deploy/envoy are not checked here: see their READMEs);
# - deploy/redis/start.sh, run against a real redis-server, refuses empty, short and
#   placeholder passwords and never lets a password add ACL rules; the service users
#   may run what the Cluster and Sentinel clients need (ROLE, CLUSTER SLOTS, WAIT);
# - the topologies of deploy/compose (docker-compose -f docker-compose.yml -f <file>):
#   compose accepts each, their mounts exist, the services' settings agree with the
#   nodes, and, on real redis-servers, a 6-node Cluster made by
#   deploy/redis/cluster-init.sh and a master, replica and 3 sentinels that fail over,
#   all with the ACL users of deploy/redis and no ACL denial;
# - the observability profile: promtool accepts deploy/prometheus/prometheus.yml and
#   every query of the Grafana dashboard, whose metrics and labels are ones the
#   services export (read from the code), and Prometheus scrapes the services' ports.
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$REPO_ROOT"

# kubernetes-validate ships the schemas of every Kubernetes version up to its own.
KUBERNETES_VALIDATE_VERSION="1.37.0"
# The oldest Kubernetes the manifests support (the preStop sleep action is on by
# default from 1.30) and the newest the validator knows.
KUBERNETES_VERSIONS=(1.30.0 1.37.0)
TOOLS_VENV="$REPO_ROOT/.venv-tools"

# Makes sure kubernetes-validate is installed in .venv-tools at the pinned version.
ensure_kubernetes_validate() {
    local installed=""
    if [ -x "$TOOLS_VENV/bin/kubernetes-validate" ]; then
        installed=$("$TOOLS_VENV/bin/pip" show kubernetes-validate 2>/dev/null || true)
    fi
    if [[ "$installed" == *"Version: $KUBERNETES_VALIDATE_VERSION"* ]]; then
        return 0
    fi
    echo "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into .venv-tools" >&2
    python3 -m venv "$TOOLS_VENV" >&2 &&
        "$TOOLS_VENV/bin/pip" install -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
}

# random_password: 32 hex characters, like `openssl rand -hex 16`.
random_password() {
    python3 -c 'import secrets; print(secrets.token_hex(16))'
}

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/session-store-check-XXXXXX")
PIDS=()
trap 'stop_pids "${PIDS[@]}"; rm -rf "$RUN_DIR"' EXIT
trap 'exit 130' INT TERM

ensure_apt_package docker-compose docker-compose
docker-compose --env-file .env.example -f docker-compose.yml config -q
docker-compose --env-file .env.example -f docker-compose.yml --profile gateway config -q
docker-compose --env-file .env.example -f docker-compose.yml --profile observability config -q
echo "docker-compose.yml: accepted (also with --profile gateway, with --profile observability)"
# The topology checks below read compose's merged view of each, made with a value of
# its own for every variable of .env.example, so that mixed-up passwords show.
sed -E 's/^([A-Z0-9_]+)=.*/\1=value-of-\1/' .env.example >"$RUN_DIR/distinct.env"
docker-compose --env-file "$RUN_DIR/distinct.env" -f docker-compose.yml --profile observability \
    config >"$RUN_DIR/compose-observability.yml"
TOPOLOGIES=(deploy/compose/*.yml)
for override in "${TOPOLOGIES[@]}"; do
    docker-compose --env-file .env.example -f docker-compose.yml -f "$override" config -q
    docker-compose --env-file "$RUN_DIR/distinct.env" -f docker-compose.yml -f "$override" \
        config >"$RUN_DIR/compose-$(basename "$override")"
done
# A Redis topology and the MongoDB replica set together, as the files say they combine.
for override in deploy/compose/cluster.yml deploy/compose/sentinel.yml; do
    docker-compose --env-file .env.example -f docker-compose.yml -f "$override" \
        -f deploy/compose/mongo-replica-set.yml --profile observability config -q
done
echo "deploy/compose: each of ${TOPOLOGIES[*]} accepted over docker-compose.yml (and a Redis topology with the MongoDB replica set)"

metadata="$RUN_DIR/metadata.json"
cargo metadata --format-version 1 --no-deps >"$metadata"
python3 - "$metadata" <<'PY'
import glob, json, os, re, sys

try:
    import yaml
except ImportError:
    sys.exit("error: PyYAML is missing; install it with: sudo apt-get install -y python3-yaml")

meta = json.load(open(sys.argv[1]))
packages = {p["name"] for p in meta["packages"]}
bins = {t["name"] for p in meta["packages"] for t in p["targets"] if "bin" in t["kind"]}
problems = []


def arg_declarations(text):
    """ARG name -> default (None when the build must pass it)."""
    declared = {}
    for m in re.finditer(r"^\s*ARG\s+(\w+)(?:=(\S*))?\s*$", text, re.M):
        declared.setdefault(m.group(1), m.group(2))
    return declared


def check_dockerfile(path, args, label):
    """Checks one image: the Dockerfile at path built with these build args."""
    text = open(path).read().replace("\\\n", " ")
    declared = arg_declarations(text)
    for name in sorted(set(args) - set(declared)):
        problems.append(f"{label}: build arg {name} is not an ARG of {path}")
    values = {}
    for name, default in declared.items():
        value = args.get(name, default)
        if value is None or value == "":
            problems.append(f"{label}: {path} needs the build arg {name}")
        values[name] = value or ""

    def substitute(line):
        return re.sub(r"\$\{(\w+)\}|\$(\w+)",
                      lambda m: values.get(m.group(1) or m.group(2), m.group(0)), line)

    installed = {}  # path in the build stage -> workspace binary copied there
    copied = {}     # path in the final image -> path in another stage
    runs = []       # (instruction, program path) of ENTRYPOINT, CMD and HEALTHCHECK
    for raw in text.splitlines():
        line = substitute(raw.strip())
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        op = words[0].upper()
        if op == "COPY":
            if any(w.startswith("--from") for w in words):
                copied[words[-1]] = words[-2]
            else:
                for src in words[1:-1]:
                    if not src.startswith("--") and not os.path.exists(src):
                        problems.append(f"{label}: COPY source {src} does not exist")
        unquoted = line.replace('"', "").replace("'", "")
        for pkg in re.findall(r"cargo build [^&;|]*?-p ([\w$-]+)", unquoted):
            if pkg not in packages:
                problems.append(f"{label}: cargo package {pkg} is not in the workspace")
        for binary, dest in re.findall(r"\bcp target/release/([\w$-]+) (\S+)", unquoted):
            installed[dest] = binary
        for binary in re.findall(r"\btarget/release/([\w$-]+)", unquoted):
            if binary not in bins:
                problems.append(f"{label}: target/release/{binary} is not a workspace binary")
        if op in ("ENTRYPOINT", "CMD") or (op == "HEALTHCHECK" and "CMD" in words):
            m = re.search(r'\[\s*"([^"]+)"', line)
            if m:
                runs.append((op, m.group(1)))
    for op, program in runs:
        check_program(label, f"{op} runs", program, installed, copied)
    return installed, copied


def check_program(label, what, program, installed, copied):
    """program must be a file the image got from a workspace binary."""
    binary = installed.get(copied.get(program, ""))
    if binary is None:
        problems.append(f"{label}: {what} {program}, which the image does not install from target/release")
    elif binary not in bins:
        problems.append(f"{label}: {what} {program}, built from {binary}, which no workspace package builds")


for path in sorted(glob.glob("deploy/compose/*.yml")):
    # Relative paths in an override are relative to docker-compose.yml's directory.
    for name, svc in sorted(((yaml.safe_load(open(path)) or {}).get("services") or {}).items()):
        for volume in svc.get("volumes") or []:
            src = volume.split(":")[0] if isinstance(volume, str) else (volume.get("source") or "")
            if src.startswith(".") and not os.path.exists(src):
                problems.append(f"{path} service {name} mounts {src}, which does not exist")
        if svc.get("build"):
            problems.append(f"{path} service {name} builds an image; only docker-compose.yml builds them")

compose = yaml.safe_load(open("docker-compose.yml"))
built = set()        # Dockerfiles compose builds
deployed = set()     # SERVICE values compose builds
for name, svc in sorted((compose.get("services") or {}).items()):
    label = f"docker-compose.yml service {name}"
    for volume in svc.get("volumes") or []:
        src = volume.split(":")[0] if isinstance(volume, str) else (volume.get("source") or "")
        if src.startswith(".") and not os.path.exists(src):
            problems.append(f"{label} mounts {src}, which does not exist")
    build = svc.get("build")
    if build is None:
        continue
    if isinstance(build, str):
        build = {"context": build}
    path = os.path.normpath(os.path.join(build.get("context", "."), build.get("dockerfile", "Dockerfile")))
    args = build.get("args") or {}
    if isinstance(args, list):
        args = dict(a.split("=", 1) if "=" in a else (a, None) for a in args)
    args = {k: None if v is None else str(v) for k, v in args.items()}
    if not os.path.isfile(path):
        problems.append(f"{label}: builds {path}, which does not exist")
        continue
    built.add(path)
    service = args.get("SERVICE")
    if "SERVICE" in arg_declarations(open(path).read()):
        if service not in bins:
            problems.append(f"{label}: SERVICE={service} is not a workspace binary (have: {', '.join(sorted(bins))})")
        deployed.add(service)
    port = args.get("PORT")
    if port is not None:
        published = {str(p).split(":")[-1].split("/")[0] for p in svc.get("ports") or []}
        if not port.isdigit():
            problems.append(f"{label}: PORT={port} is not a port number")
        elif published and port not in published:
            problems.append(f"{label}: PORT={port}, but compose publishes container port(s) {', '.join(sorted(published))}")
    installed, copied = check_dockerfile(path, args, f"{path} (SERVICE={service})" if service else path)
    test = (svc.get("healthcheck") or {}).get("test")
    if isinstance(test, list) and len(test) > 1 and test[0] == "CMD":
        check_program(label, "healthcheck runs", test[1], installed, copied)
    print(f"{path} as {label}: checked")

for name in sorted(os.listdir("deploy")):
    path = os.path.join("deploy", name)
    if name.endswith("Dockerfile") and path not in built:
        check_dockerfile(path, {}, path)
        print(f"{path}: checked (not built by docker-compose.yml)")
for svc in ("auth-service", "resource-service"):
    if svc not in deployed:
        problems.append(f"docker-compose.yml builds no image with SERVICE={svc}")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print("deployment files: consistent")
PY

# --- deploy/compose: the topologies agree with deploy/redis, deploy/mongo and the services
python3 - "$RUN_DIR" "${TOPOLOGIES[@]}" <<'PY'
"""Reads compose's merged view of each topology (docker-compose.yml plus the override)."""
import os, re, sys
from urllib.parse import parse_qs, urlsplit

import yaml

run_dir, overrides = sys.argv[1], sys.argv[2:]
problems = []
ROOT = os.getcwd()


def mounted(svc, target):
    """The repository file mounted at target in the container, or None."""
    for v in svc.get("volumes") or []:
        src, dst = (v.split(":")[:2] if isinstance(v, str) else (v.get("source"), v.get("target")))
        if dst == target:
            return os.path.relpath(src, ROOT) if src and os.path.isabs(src) else src
    return None


def users_in(path):
    """The users of an ACL rules file (deploy/redis/*acl-rules*.txt)."""
    users = []
    for line in open(path):
        words = line.split()
        if words and not words[0].startswith("#"):
            users.append(words[0])
    return users


def password_var(user):
    return "REDIS_" + user.upper().replace("-", "_") + "_PASSWORD"


def command_arg(svc, flag):
    """The value after flag in the service's command, or None."""
    cmd = svc.get("command") or []
    return cmd[cmd.index(flag) + 1] if flag in cmd and cmd.index(flag) + 1 < len(cmd) else None


def runs(svc, script):
    return any(script in str(w) for w in (svc.get("entrypoint") or []) + (svc.get("command") or []))


def depends(where, svc, names, condition):
    deps = svc.get("depends_on") or {}
    for n in names:
        got = (deps.get(n) or {}).get("condition") if isinstance(deps, dict) else None
        if got != condition:
            problems.append(f"{where} does not wait for {n} ({condition})")


def check(path):
    services = yaml.safe_load(open(os.path.join(run_dir, "compose-" + os.path.basename(path))))["services"]
    env = {n: {k: str(v) for k, v in (s.get("environment") or {}).items()} for n, s in services.items()}
    redis_nodes, sentinels = [], []
    for name, svc in sorted(services.items()):
        where = f"{path} service {name}"
        if not runs(svc, "/etc/redis/start.sh"):
            continue
        if svc.get("ports"):
            problems.append(f"{where} publishes a port to the host")
        start = mounted(svc, "/etc/redis/start.sh")
        if start != "deploy/redis/start.sh":
            problems.append(f"{where} runs /etc/redis/start.sh but mounts {start} there")
        users = []
        for target in env[name].get("ACL_RULES", "/etc/redis/acl-rules.txt").split(":"):
            source = mounted(svc, target)
            if source is None or not os.path.isfile(source):
                problems.append(f"{where}: ACL_RULES names {target}, which is not a mounted file")
                continue
            users += users_in(source)
        for user in users:
            if not env[name].get(password_var(user)):
                problems.append(f"{where}: user {user} has no {password_var(user)} (start.sh refuses to start)")
        master_user = env[name].get("REDIS_MASTERUSER")
        if master_user is not None and master_user not in users:
            problems.append(f"{where}: REDIS_MASTERUSER={master_user} is none of its users {users}")
        if "SENTINEL_CONFIG" in env[name]:
            sentinels.append(name)
            if env[name].get("SENTINEL_ANNOUNCE_HOSTNAME") != name:
                problems.append(f"{where}: SENTINEL_ANNOUNCE_HOSTNAME is not its service name")
        else:
            redis_nodes.append(name)
            for flag in ("--cluster-announce-hostname", "--replica-announce-ip"):
                value = command_arg(svc, flag)
                if value is not None and value != name:
                    problems.append(f"{where}: {flag} {value} is not its service name")
    apps = {n: env[n] for n in ("auth-service", "resource-service")}
    mode = {n: e.get("APP__REDIS__MODE", "standalone") for n, e in apps.items()}
    password_of = lambda app: env["redis"].get(password_var(app))

    cluster = [n for n in redis_nodes if command_arg(services[n], "--include") == "/etc/redis/cluster.conf"]
    if cluster:
        if len(cluster) < 6:
            problems.append(f"{path}: {len(cluster)} cluster nodes; 3 masters with a replica each need 6")
        for n in cluster:
            if mounted(services[n], "/etc/redis/cluster.conf") != "deploy/redis/cluster.conf":
                problems.append(f"{path} service {n} includes /etc/redis/cluster.conf without mounting deploy/redis/cluster.conf")
            if command_arg(services[n], "--cluster-announce-hostname") != n:
                problems.append(f"{path} service {n} announces no hostname (--cluster-announce-hostname {n})")
            if env[n].get("REDIS_MASTERUSER") != "replication":
                problems.append(f"{path} service {n}: REDIS_MASTERUSER is not replication (a replica must log in to its master)")
        inits = [n for n, s in services.items() if runs(s, "/etc/redis/cluster-init.sh")]
        if len(inits) != 1:
            problems.append(f"{path}: {len(inits)} services run cluster-init.sh, expected 1")
        for n in inits:
            listed = set(env[n].get("REDIS_CLUSTER_NODES", "").replace(",", " ").split())
            if listed != {f"{c}:6379" for c in cluster}:
                problems.append(f"{path} service {n}: REDIS_CLUSTER_NODES {sorted(listed)} are not the cluster nodes {cluster}")
            if env[n].get("REDIS_ADMIN_PASSWORD") != env[cluster[0]].get("REDIS_ADMIN_PASSWORD"):
                problems.append(f"{path} service {n}: REDIS_ADMIN_PASSWORD is not the nodes' admin password")
            depends(f"{path} service {n}", services[n], cluster, "service_healthy")
        for app, e in apps.items():
            where = f"{path} service {app}"
            if mode[app] != "cluster":
                problems.append(f"{where}: APP__REDIS__MODE is {mode[app]}, not cluster")
            seeds = [urlsplit(u.strip()) for u in e.get("APP__REDIS__NODES", "").split(",") if u.strip()]
            if {(u.hostname, u.port) for u in seeds} != {(c, 6379) for c in cluster}:
                problems.append(f"{where}: APP__REDIS__NODES does not name every cluster node on 6379")
            if any(u.scheme not in ("redis", "rediss") or u.username != app or u.password != password_of(app) for u in seeds):
                problems.append(f"{where}: every APP__REDIS__NODES URL must log in as {app} with {password_var(app)}")
            depends(where, services[app], inits, "service_completed_successfully")

    if sentinels:
        conf_path = mounted(services[sentinels[0]], env[sentinels[0]].get("SENTINEL_CONFIG"))
        conf = open(conf_path).read() if conf_path and os.path.isfile(conf_path) else ""
        m = re.search(r"^sentinel monitor (\S+) (\S+) (\d+) (\d+)$", conf, re.M)
        port = re.search(r"^port (\d+)$", conf, re.M)
        if not m or not port:
            problems.append(f"{path}: the sentinels' config {conf_path} has no 'port' or 'sentinel monitor' line")
            return
        master, host, quorum = m.group(1), m.group(2), int(m.group(4))
        if len(sentinels) < 3 or not len(sentinels) // 2 < quorum <= len(sentinels):
            problems.append(f"{path}: {len(sentinels)} sentinels with quorum {quorum}; want at least 3 and a majority")
        if host not in redis_nodes:
            problems.append(f"{path}: the sentinels watch {host}, which is no Redis service of this file")
        replicas = [n for n in redis_nodes if command_arg(services[n], "--replicaof") == host]
        if not replicas:
            problems.append(f"{path}: no Redis service is a replica of {host} (--replicaof {host} 6379)")
        data = [host] + replicas
        for n in sentinels + data:
            if env[n].get("REDIS_MASTERUSER") != "replication" or \
                    env[n].get("REDIS_REPLICATION_PASSWORD") != env[host].get("REDIS_REPLICATION_PASSWORD"):
                problems.append(f"{path} service {n}: must log in as replication with the data nodes' REDIS_REPLICATION_PASSWORD")
            if n in data and command_arg(services[n], "--replica-announce-ip") != n:
                problems.append(f"{path} service {n}: announces no name to the sentinels (--replica-announce-ip {n})")
        sentinel_users = users_in(mounted(services[sentinels[0]], env[sentinels[0]]["ACL_RULES"].split(":")[0]))
        for app, e in apps.items():
            where = f"{path} service {app}"
            if mode[app] != "sentinel":
                problems.append(f"{where}: APP__REDIS__MODE is {mode[app]}, not sentinel")
            addrs = [urlsplit(u.strip()) for u in e.get("APP__REDIS__SENTINELS", "").split(",") if u.strip()]
            if {(u.hostname, u.port) for u in addrs} != {(s, int(port.group(1))) for s in sentinels}:
                problems.append(f"{where}: APP__REDIS__SENTINELS does not name every sentinel on port {port.group(1)}")
            if e.get("APP__REDIS__MASTER_NAME") != master:
                problems.append(f"{where}: APP__REDIS__MASTER_NAME is not {master}, the name the sentinels watch")
            user = e.get("APP__REDIS__SENTINEL_USERNAME")
            if user not in sentinel_users or e.get("APP__REDIS__SENTINEL_PASSWORD") != env[sentinels[0]].get(password_var(user)):
                problems.append(f"{where}: APP__REDIS__SENTINEL_USERNAME/PASSWORD are not a sentinel user and its password")
            url = urlsplit(e.get("APP__REDIS__URL", ""))
            if url.username != app or url.password != password_of(app):
                problems.append(f"{where}: APP__REDIS__URL (the master's credentials) must log in as {app}")
            depends(where, services[app], sentinels, "service_healthy")

    members = [n for n, s in services.items() if runs(s, "/etc/mongo/replica-set-member.sh")]
    if members:
        names = {env[n].get("MONGO_REPLICA_SET") for n in members}
        keys = {env[n].get("MONGO_REPLICA_SET_KEY") for n in members}
        if len(members) < 3 or len(names) != 1 or len(keys) != 1 or None in keys:
            problems.append(f"{path}: members {members} must be 3 or more with one MONGO_REPLICA_SET and one MONGO_REPLICA_SET_KEY")
        name = names.pop()
        for n in members:
            if mounted(services[n], "/etc/mongo/replica-set-member.sh") != "deploy/mongo/replica-set-member.sh":
                problems.append(f"{path} service {n} does not mount deploy/mongo/replica-set-member.sh")
            if services[n].get("ports"):
                problems.append(f"{path} service {n} publishes a port to the host")
            has_root = "MONGO_INITDB_ROOT_USERNAME" in env[n]
            if has_root != (n == "mongo"):
                problems.append(f"{path} service {n}: only the first member (mongo) may create the users; the others copy them")
        user_js = mounted(services["mongo"], "/docker-entrypoint-initdb.d/create-auth-service-user.js")
        if user_js != "deploy/mongo/create-auth-service-user.js":
            problems.append(f"{path}: mongo does not run deploy/mongo/create-auth-service-user.js on its first start")
        inits = [n for n, s in services.items() if runs(s, "/etc/mongo/init-replica-set.js")]
        if len(inits) != 1:
            problems.append(f"{path}: {len(inits)} services run init-replica-set.js, expected 1")
        for n in inits:
            listed = [m.strip() for m in env[n].get("MONGO_REPLICA_SET_MEMBERS", "").split(",")]
            if set(listed) != {f"{m}:27017" for m in members} or listed[0] != "mongo:27017":
                problems.append(f"{path} service {n}: MONGO_REPLICA_SET_MEMBERS {listed} are not the members, mongo first")
            if env[n].get("MONGO_REPLICA_SET") != name:
                problems.append(f"{path} service {n}: MONGO_REPLICA_SET is not {name}")
            if env[n].get("MONGO_ROOT_PASSWORD") != env["mongo"].get("MONGO_INITDB_ROOT_PASSWORD"):
                problems.append(f"{path} service {n}: logs in with another password than mongo's root user")
            depends(f"{path} service {n}", services[n], members, "service_healthy")
        uri = env["auth-service"].get("APP__MONGODB__URI", "")
        parts = urlsplit(uri)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        hosts = set(parts.netloc.rsplit("@", 1)[-1].split(","))
        want = {"replicaSet": name, "w": "majority", "retryWrites": "true", "readConcernLevel": "majority",
                "authSource": env["mongo"].get("MONGO_INITDB_DATABASE")}
        if hosts != {f"{m}:27017" for m in members} or any(query.get(k) != v for k, v in want.items()) \
                or parts.username != "auth-service":
            problems.append(f"{path}: the auth-service's APP__MONGODB__URI must be auth-service@every member with {want}")
        depends(f"{path} service auth-service", services["auth-service"], inits, "service_completed_successfully")
        example = [l for l in open(".env.example") if "APP__MONGODB__URI=" in l and "replicaSet=" in l]
        if not example or not all(f"{k}=" in example[0] for k in ("replicaSet", "w", "retryWrites", "readConcernLevel")):
            problems.append(".env.example shows no replica-set APP__MONGODB__URI with replicaSet, w, retryWrites and readConcernLevel")
    if not (cluster or sentinels or members):
        problems.append(f"{path}: neither a Redis Cluster, Redis with Sentinel nor a MongoDB replica set")


for path in overrides:
    check(path)
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"deploy/compose: {', '.join(overrides)} agree with deploy/redis, deploy/mongo and the services' settings")
PY

# --- observability profile: Prometheus, Grafana and the dashboard's queries ------------
ensure_apt_package promtool prometheus
PROMETHEUS_CONFIG=deploy/prometheus/prometheus.yml
DASHBOARD=deploy/grafana/dashboards/session-store.json
promtool check config "$PROMETHEUS_CONFIG" >"$RUN_DIR/promtool-config.txt" 2>&1 || {
    cat "$RUN_DIR/promtool-config.txt" >&2
    echo "error: promtool refused $PROMETHEUS_CONFIG" >&2
    exit 1
}
python3 - "$RUN_DIR" "$PROMETHEUS_CONFIG" "$DASHBOARD" <<'PY'
"""Prometheus scrapes what compose builds; Grafana's provisioning, the dashboard and
the metrics the services export (read from their code) agree. Writes every panel
query as a recording rule for promtool to parse."""
import glob, json, os, re, sys

import yaml

run_dir, prometheus_path, dashboard_path = sys.argv[1:]
problems = []
ROOT = os.getcwd()
services = yaml.safe_load(open(os.path.join(run_dir, "compose-observability.yml")))["services"]


def mounted(svc, target):
    for v in svc.get("volumes") or []:
        src, dst = (v.split(":")[:2] if isinstance(v, str) else (v.get("source"), v.get("target")))
        if dst == target:
            return os.path.relpath(src, ROOT) if src and os.path.isabs(src) else src
    return None


# Prometheus: one job per service compose builds, on the port it builds it for.
built = {s["build"]["args"]["SERVICE"]: int(s["build"]["args"]["PORT"])
         for s in services.values() if (s.get("build") or {}).get("args", {}).get("SERVICE")}
prometheus_svc = services.get("prometheus") or {}
config_flag = [a.split("=", 1)[1] for a in prometheus_svc.get("command") or [] if a.startswith("--config.file=")]
if not config_flag or mounted(prometheus_svc, config_flag[0]) != prometheus_path:
    problems.append(f"docker-compose.yml: the prometheus service does not run with {prometheus_path}")
if "observability" not in (prometheus_svc.get("profiles") or []):
    problems.append("docker-compose.yml: the prometheus service is not in the observability profile")
prometheus = yaml.safe_load(open(prometheus_path))
jobs = {j["job_name"]: j for j in prometheus.get("scrape_configs") or []}
for service, port in sorted(built.items()):
    job = jobs.get(service)
    targets = [t for c in (job or {}).get("static_configs") or [] for t in c.get("targets") or []]
    if job is None or targets != [f"{service}:{port}"] or job.get("metrics_path", "/metrics") != "/metrics":
        problems.append(f"{prometheus_path}: no job {service} scraping {service}:{port}/metrics")

# Grafana: provisioning mounted, the data source is that Prometheus, the dashboards
# folder is where the provider looks, the home dashboard exists.
grafana = services.get("grafana") or {}
genv = {k: str(v) for k, v in (grafana.get("environment") or {}).items()}
if "observability" not in (grafana.get("profiles") or []):
    problems.append("docker-compose.yml: the grafana service is not in the observability profile")
provisioning = mounted(grafana, "/etc/grafana/provisioning")
if provisioning != "deploy/grafana/provisioning":
    problems.append("docker-compose.yml: grafana does not mount deploy/grafana/provisioning at /etc/grafana/provisioning")
    provisioning = "deploy/grafana/provisioning"
sources = [d for f in sorted(glob.glob(f"{provisioning}/datasources/*.yml"))
           for d in (yaml.safe_load(open(f)) or {}).get("datasources") or []]
uids = {d.get("uid") for d in sources}
prom_port = int(str((prometheus_svc.get("ports") or [{}])[0].get("target", 9090))) \
    if isinstance((prometheus_svc.get("ports") or [None])[0], dict) else 9090
if not any(d.get("type") == "prometheus" and d.get("url") == f"http://prometheus:{prom_port}" for d in sources):
    problems.append(f"{provisioning}/datasources: no prometheus data source at http://prometheus:{prom_port}")
interval = prometheus.get("global", {}).get("scrape_interval")
if any(d.get("type") == "prometheus" and (d.get("jsonData") or {}).get("timeInterval") != interval for d in sources):
    problems.append(f"{provisioning}/datasources: timeInterval is not Prometheus's scrape_interval {interval}")
folders = []
for f in sorted(glob.glob(f"{provisioning}/dashboards/*.yml")):
    for p in (yaml.safe_load(open(f)) or {}).get("providers") or []:
        target = (p.get("options") or {}).get("path")
        source = mounted(grafana, target)
        if source is None or not os.path.isdir(source):
            problems.append(f"{f}: provider {p.get('name')} reads {target}, which is no mounted directory")
        else:
            folders.append((target, source))
if not any(os.path.abspath(os.path.join(s, os.path.basename(dashboard_path))) == os.path.abspath(dashboard_path)
           for _, s in folders):
    problems.append(f"{dashboard_path} is in no folder a Grafana dashboard provider reads")
home = genv.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
if home and not any(home.startswith(t + "/") and os.path.isfile(os.path.join(s, home[len(t) + 1:])) for t, s in folders):
    problems.append(f"docker-compose.yml: grafana's home dashboard {home} is not a mounted file")

# What the services export, from their code: metrics::counter!/gauge!/histogram!("name",
# "label" => ..) and session_core::measure's count/count_by/observe("name", "label", ..)
# and set("name", ..). Histograms get buckets when their name ends in the suffix that
# service-kit/src/metrics.rs gives buckets to, else they are summaries.
exported = {}   # name -> (kind, labels)
def export(name, kind, labels):
    old_kind, old_labels = exported.get(name, (kind, set()))
    if old_kind != kind:
        problems.append(f"the code records {name} both as a {old_kind} and as a {kind}")
    exported[name] = (kind, old_labels | set(labels))

def call_args(text, start):
    depth, i = 1, start
    while depth and i < len(text):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return text[start:i - 1]

sources_rs = [f for pattern in ("crates/*/src/**/*.rs", "services/*/src/**/*.rs")
              for f in glob.glob(pattern, recursive=True)]
for f in sources_rs:
    text = open(f).read()
    for m in re.finditer(r"\b(counter|gauge|histogram)!\(", text):
        args = call_args(text, m.end())
        name = re.match(r'\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"', args)
        if name:
            export(name.group(1), m.group(1), re.findall(r'"(\w+)"\s*=>', args))
    for m in re.finditer(r'\b(count|count_by|observe)\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"\s*,\s*"(\w*)"', text):
        export(m.group(2), "histogram" if m.group(1) == "observe" else "counter", [m.group(3)] if m.group(3) else [])
    for m in re.finditer(r'\bmeasure::set\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"', text):
        export(m.group(1), "gauge", [])
bucketed = re.findall(r'Matcher::Suffix\("(\w+)"', open("crates/service-kit/src/metrics.rs").read())
series = {}     # series name as Prometheus stores it -> labels it carries
for name, (kind, labels) in exported.items():
    if kind == "histogram":
        buckets = any(name.endswith(s) for s in bucketed)
        series[name + "_bucket" if buckets else name] = labels | ({"le"} if buckets else {"quantile"})
        series[name + "_sum"] = series[name + "_count"] = labels
    else:
        series[name] = labels
if len(exported) < 5:
    problems.append(f"found only {sorted(exported)} in the services' code; is the pattern in scripts/check-deploy.sh stale?")

# The dashboard: every query names series the services export, with their labels.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless", "inf", "nan"}
dashboard = json.load(open(dashboard_path))
used, rules, ids = set(), [], set()
for panel in dashboard.get("panels") or []:
    where = f"{dashboard_path} panel {panel.get('id')} ({panel.get('title')})"
    if panel.get("id") in ids:
        problems.append(f"{where}: id used twice")
    ids.add(panel.get("id"))
    g = panel.get("gridPos") or {}
    if not (0 <= g.get("x", -1) and g.get("x", 0) + g.get("w", 0) <= 24 and g.get("h", 0) > 0):
        problems.append(f"{where}: gridPos {g} is off the 24-column grid")
    if not panel.get("targets"):
        problems.append(f"{where}: no query")
    for target in panel.get("targets") or []:
        for ds in (panel.get("datasource"), target.get("datasource")):
            if ds is not None and ds.get("uid") not in uids:
                problems.append(f"{where}: data source uid {ds.get('uid')} is not provisioned ({sorted(uids)})")
        expr = target.get("expr", "")
        rules.append({"record": f"dashboard:panel_{panel.get('id')}_{target.get('refId')}",
                      "expr": expr.replace("$__rate_interval", "1m").replace("$__interval", "15s")})
        text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
        text = re.sub(r"\[[^\]]*\]", "", text)
        grouping = set()
        for g_m in re.finditer(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
            grouping |= {l.strip() for l in g_m.group(2).split(",") if l.strip()}
        text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
        names = set()
        for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?", text):
            name, rest = m.group(1), text[m.end():]
            if name.lower() in KEYWORDS or rest.lstrip().startswith("(") or re.match(r"\d", name):
                continue
            names.add(name)
            if name not in series:
                problems.append(f"{where}: {name} is no metric the services export")
                continue
            for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", m.group(3) or ""):
                if label not in series[name] | {"job", "instance"}:
                    problems.append(f"{where}: {name} has no label {label}")
        used |= names
        labels = set().union(*(series.get(n, set()) for n in names)) | {"job", "instance"}
        for label in sorted(grouping - labels):
            problems.append(f"{where}: groups by {label}, a label none of {sorted(names)} has")
        for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")):
            if label not in (grouping or labels):
                problems.append(f"{where}: the legend shows {label}, which the query's result has not")
unused = sorted(n for n in exported if not any(s in used for s in (n, n + "_bucket", n + "_count", n + "_sum")))
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(os.path.join(run_dir, "dashboard-rules.yml"), "w"))
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"{prometheus_path}: scrapes {', '.join(f'{s}:{p}' for s, p in sorted(built.items()))}; Grafana provisioning consistent")
print(f"{dashboard_path}: {len(ids)} panels, {len(rules)} queries over {len(used)} of the {len(exported)} metrics the services export"
      + (f" (not shown: {', '.join(unused)})" if unused else " (all of them)"))
PY
promtool check rules "$RUN_DIR/dashboard-rules.yml" >"$RUN_DIR/promtool-rules.txt" 2>&1 || {
    cat "$RUN_DIR/promtool-rules.txt" >&2
    echo "error: promtool cannot parse a query of $DASHBOARD (written as recording rules)" >&2
    exit 1
}
echo "$PROMETHEUS_CONFIG and every query of $DASHBOARD: promtool accepts them ($(promtool --version 2>&1 | head -1))"

# --- deploy/mongo and deploy/grafana: the entrypoints that guard a secret ---------------
# They refuse a missing, short or placeholder one before they start anything (the real
# start needs the images: not run here).
entrypoint_refuses() {
    local script=$1 variable=$2 value=$3 out status=0
    out=$(env -i PATH="$PATH" "$variable=$value" timeout 10 sh "$script" 2>&1) || status=$?
    if [ "$status" -ne 1 ] || [[ "$out" != *error:* ]]; then
        echo "error: $script did not refuse $variable='$value' (exit $status): $out" >&2
        exit 1
    fi
}
for value in "" short replace-me-with-openssl-rand-hex-32 "$(random_password)G"; do
    entrypoint_refuses deploy/mongo/replica-set-member.sh MONGO_REPLICA_SET_KEY "$value"
done
for value in "" short-password replace-me-with-openssl-rand-hex-32; do
    entrypoint_refuses deploy/grafana/start.sh GF_SECURITY_ADMIN_PASSWORD "$value"
done
if command -v node >/dev/null 2>&1; then
    node --check deploy/mongo/init-replica-set.js
    js_checked=", init-replica-set.js parses (node --check)"
else
    js_checked=" (node is not installed: init-replica-set.js not parsed)"
fi
python3 -c 'import ast, sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]' \
    deploy/grafana/render.py deploy/grafana/load.py
echo "deploy/mongo/replica-set-member.sh and deploy/grafana/start.sh refuse missing, short and placeholder secrets$js_checked"

# --- deploy/nginx: the gateway template, as the nginx image renders it -----------------
ensure_apt_package nginx nginx
NGINX_TEMPLATE=deploy/nginx/gateway.conf.template

# The image fills in ${NAME} for the variables of the container's environment (envsubst),
# so the template's placeholders must be exactly what compose's gateway service sets.
python3 - "$NGINX_TEMPLATE" <<'PY'
import re, sys
import yaml

path = sys.argv[1]
placeholders = set(re.findall(r"\$\{(\w+)\}", open(path).read()))
services = yaml.safe_load(open("docker-compose.yml"))["services"]
gateway = services.get("gateway")
if gateway is None:
    sys.exit("error: docker-compose.yml has no gateway service")
env = {k: str(v) for k, v in (gateway.get("environment") or {}).items()}
depends = gateway.get("depends_on") or []
problems = []
if "gateway" not in (gateway.get("profiles") or []):
    problems.append("docker-compose.yml: the gateway service is not in the gateway profile")
targets = [v.split(":")[1] for v in gateway.get("volumes") or [] if v.split(":")[0] == "./" + path]
if not any(t.startswith("/etc/nginx/templates/") and t.endswith(".template") for t in targets):
    problems.append(f"docker-compose.yml: the gateway does not mount {path} as /etc/nginx/templates/*.template")
if placeholders != set(env):
    problems.append(f"{path} has the placeholders {sorted(placeholders)}, but the gateway service sets {sorted(env)}")
published = {str(p).split(":")[-1] for p in gateway.get("ports") or []}
if env.get("GATEWAY_PORT") not in published:
    problems.append(f"docker-compose.yml: the gateway listens on {env.get('GATEWAY_PORT')} but publishes {sorted(published)}")
for var in ("AUTH_SERVICE", "UPSTREAM"):
    host = env.get(var, "").rsplit(":", 1)[0]
    if host not in services:
        problems.append(f"docker-compose.yml: the gateway's {var}={env.get(var)} names no compose service")
    elif host not in depends:
        problems.append(f"docker-compose.yml: the gateway does not depend on {host} (nginx resolves it at start)")
auth_port = services["auth-service"]["build"]["args"]["PORT"]
if env.get("AUTH_SERVICE", "").rsplit(":", 1)[-1] != str(auth_port):
    problems.append(f"docker-compose.yml: the gateway's AUTH_SERVICE={env.get('AUTH_SERVICE')} is not on the auth-service's port {auth_port}")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"{path}: its placeholders are the gateway service's environment ({', '.join(sorted(env))})")
PY

# nginx_check NAME GATEWAY_PORT AUTH_SERVICE UPSTREAM: renders the template with these
# values (the placeholders, nothing else; AUTH_HOST is auth.example.com) into a minimal
# main nginx.conf whose every path is in a temporary directory, and runs `nginx -t` on
# it (which resolves the upstream hosts, so give it addresses).
nginx_check() {
    local dir="$RUN_DIR/nginx-$1"
    mkdir -p "$dir"
    GATEWAY_PORT=$2 AUTH_SERVICE=$3 UPSTREAM=$4 AUTH_HOST=auth.example.com python3 -c '
import os, re, sys
text = open(sys.argv[1]).read()
sys.stdout.write(re.sub(r"\$\{(GATEWAY_PORT|AUTH_SERVICE|UPSTREAM|AUTH_HOST)\}", lambda m: os.environ[m.group(1)], text))
' "$NGINX_TEMPLATE" >"$dir/rendered.conf"
    cat >"$dir/nginx.conf" <<NGINX
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/rendered.conf;
}
NGINX
    nginx -t -q -c "$dir/nginx.conf" -p "$dir/" -e "$dir/error.log" >"$dir/test.log" 2>&1
}

for values in "compose 8088 127.0.0.1:8080 127.0.0.1:8000" \
    "free-ports $(free_port) 127.0.0.1:$(free_port) 127.0.0.1:$(free_port)"; do
    read -r name port auth upstream <<<"$values"
    if ! nginx_check "$name" "$port" "$auth" "$upstream"; then
        cat "$RUN_DIR/nginx-$name/test.log" >&2
        echo "error: nginx -t refused $NGINX_TEMPLATE with GATEWAY_PORT=$port AUTH_SERVICE=$auth UPSTREAM=$upstream" >&2
        exit 1
    fi
done
# The check itself: a broken rendering must be refused, or the lines above prove nothing.
broken="$RUN_DIR/nginx-compose"
echo "}" >>"$broken/rendered.conf"
if nginx -t -q -c "$broken/nginx.conf" -p "$broken/" -e "$broken/error.log" >/dev/null 2>&1; then
    echo "error: nginx -t accepted a deliberately broken rendering of $NGINX_TEMPLATE; the check proves nothing" >&2
    exit 1
fi
echo "$NGINX_TEMPLATE: nginx -t accepts it rendered for two sets of ports ($(nginx -v 2>&1 | sed 's/^nginx version: //'))"

# --- Kubernetes manifests (deploy/k8s) ---------------------------------------------------
ensure_kubernetes_validate
manifests=()
for f in deploy/k8s/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
if [ ${#manifests[@]} -eq 0 ]; then
    echo "error: deploy/k8s holds no manifest" >&2
    exit 1
fi
versions=()
for v in "${KUBERNETES_VERSIONS[@]}"; do versions+=(-k "$v"); done

# validate_manifests REPORT FILE...: kubernetes-validate --strict, where anything but an
# INFO line fails: it exits 0 on a kind or apiVersion it has no schema for (a typo).
validate_manifests() {
    local report=$1 status=0
    shift
    "$TOOLS_VENV/bin/kubernetes-validate" --strict "${versions[@]}" "$@" >"$report" 2>&1 || status=$?
    if [ "$status" -ne 0 ] || grep -qv '^INFO ' "$report" || ! grep -q '^INFO ' "$report"; then
        grep -v '^INFO ' "$report" >&2 || true
        echo "error: kubernetes-validate --strict refused $* (Kubernetes ${KUBERNETES_VERSIONS[*]})" >&2
        return 1
    fi
    echo "$* valid for Kubernetes ${KUBERNETES_VERSIONS[*]} ($(grep -c '^INFO ' "$report") resource checks, strict)"
}
validate_manifests "$RUN_DIR/kubernetes-validate.txt" "${manifests[@]}"
if command -v kubectl >/dev/null 2>&1; then
    # What `kubectl apply -k` would send, validated the same way.
    kubectl kustomize deploy/k8s >"$RUN_DIR/kustomized.yaml"
    validate_manifests "$RUN_DIR/kustomized-validate.txt" "$RUN_DIR/kustomized.yaml" >/dev/null
    echo "deploy/k8s/kustomization.yaml: kubectl kustomize output valid"
else
    echo "deploy/k8s/kustomization.yaml: kubectl not installed, its rendering is not checked (its file list is)"
fi

"$TOOLS_VENV/bin/python" - <<'PY'
"""The manifests agree with each other, with docker-compose.yml and with the services."""
import glob, os, re, sys
from urllib.parse import urlsplit

import yaml

K8S = "deploy/k8s"
problems = []
# Settings that are secrets: only ever from a Secret, never in a ConfigMap or a value.
SECRET_ENV = {"APP__JWT__SECRET", "APP__INTERNAL__TOKEN", "APP__ADMIN__TOKEN",
              "APP__REDIS__URL", "APP__MONGODB__URI", "APP__JWT__SIGNING_KEY"}

# The keys the services know; any other APP__ variable stops a service at start.
settings = open("crates/session-core/src/settings.rs").read()
def string_list(name):
    m = re.search(name + r": &\[&str\] = &\[(.*?)\];", settings, re.S)
    if not m:
        sys.exit(f"error: {name} not found in crates/session-core/src/settings.rs; update scripts/check-deploy.sh")
    return set(re.findall(r'"([a-z0-9_.]+)"', m.group(1)))
known, map_keys = string_list("KNOWN_KEYS"), string_list("MAP_KEYS")

def check_key(where, name):
    if not name.startswith("APP__"):
        return
    key = ".".join(name[len("APP__"):].lower().split("__"))
    if key not in known and not any(key.startswith(m + ".") for m in map_keys):
        problems.append(f"{where}: {name} is no configuration key the services know ({key})")

compose = yaml.safe_load(open("docker-compose.yml"))
ports, images = {}, {}   # SERVICE -> PORT / image name, as docker-compose.yml builds them
for name, svc in (compose.get("services") or {}).items():
    for var in (svc.get("environment") or {}):
        check_key(f"docker-compose.yml service {name}", var)
    args = (svc.get("build") or {}).get("args") or {}
    if isinstance(args, dict) and args.get("SERVICE"):
        ports[args["SERVICE"]] = int(args["PORT"])
        images[args["SERVICE"]] = svc.get("image")

# The topologies may also set keys that docs/api.md's "Planned" table lists (the
# contract's, not read by the services yet): those are named below, not refused.
api = open("docs/api.md").read()
section = re.search(r"^### Planned\n(.*?)(?=^#|\Z)", api, re.M | re.S)
planned = {k for line in (section.group(1).splitlines() if section else []) if line.startswith("| `")
           for k in re.findall(r"`([a-z0-9_.]+)`", line.split("|")[1])}
pending = set()
for path in sorted(glob.glob("deploy/compose/*.yml")):
    for name, svc in sorted(((yaml.safe_load(open(path)) or {}).get("services") or {}).items()):
        for var in svc.get("environment") or {}:
            key = ".".join(var[len("APP__"):].lower().split("__"))
            if var.startswith("APP__") and key in planned and key not in known:
                pending.add(key)
            else:
                check_key(f"{path} service {name}", var)

# The stores keep to the services' network, and MongoDB asks who is calling.
stores = compose.get("services") or {}
for name in ("redis", "mongo"):
    if (stores.get(name) or {}).get("ports"):
        problems.append(f"docker-compose.yml service {name} publishes a port to the host")
mongo_env = (stores.get("mongo") or {}).get("environment") or {}
if not {"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"} <= set(mongo_env):
    problems.append("docker-compose.yml service mongo runs without authentication (MONGO_INITDB_ROOT_*)")
mongo_uri = str(((stores.get("auth-service") or {}).get("environment") or {}).get("APP__MONGODB__URI", ""))
if not re.match(r"mongodb://auth-service:[^@]+@", mongo_uri) or "ROOT" in mongo_uri:
    problems.append("docker-compose.yml: the auth-service must reach MongoDB as its own user auth-service, not root")

kustomization = yaml.safe_load(open(f"{K8S}/kustomization.yaml"))
listed = kustomization.get("resources") or []
namespace = kustomization.get("namespace")
kustom_images = {i.get("name") for i in kustomization.get("images") or []}
applied, examples = {}, {}   # (kind, name) -> resource
for f in listed:
    if not os.path.isfile(os.path.join(K8S, f)):
        problems.append(f"{K8S}/kustomization.yaml lists {f}, which does not exist")
for f in sorted(os.listdir(K8S)):
    if not f.endswith(".yaml") or f == "kustomization.yaml":
        continue
    docs = [d for d in yaml.safe_load_all(open(os.path.join(K8S, f))) if d]
    if not docs:
        problems.append(f"{K8S}/{f} holds no resource")
    example = f.endswith(".example.yaml")
    if example and f in listed:
        problems.append(f"{K8S}/kustomization.yaml applies {f}, an example with placeholder values")
    if not example and f not in listed:
        problems.append(f"{K8S}/{f} is not in kustomization.yaml's resources")
    for d in docs:
        key = (d.get("kind"), (d.get("metadata") or {}).get("name"))
        target = examples if example else applied
        if key in target:
            problems.append(f"{K8S}/{f}: {key[0]} {key[1]} is defined twice")
        target[key] = d
        if d.get("kind") == "Secret" and not example:
            problems.append(f"{K8S}/{f}: Secret {key[1]} is committed; create it with kubectl create secret")
        if d.get("kind") == "Secret" and example:
            for k, v in {**(d.get("stringData") or {}), **(d.get("data") or {})}.items():
                if "replace-me" not in str(v):
                    problems.append(f"{K8S}/{f}: Secret {key[1]} key {k} is no obvious placeholder (needs 'replace-me')")
        if d.get("kind") == "ConfigMap":
            for k in d.get("data") or {}:
                check_key(f"{K8S}/{f} ConfigMap {key[1]}", k)
                if k in SECRET_ENV:
                    problems.append(f"{K8S}/{f} ConfigMap {key[1]}: {k} is a secret; it belongs in a Secret")

def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

for service, port in sorted(ports.items()):
    where = f"{K8S} {service}"
    dep = applied.get(("Deployment", service))
    if dep is None:
        problems.append(f"{where}: no Deployment named {service}")
        continue
    spec = dep["spec"]
    pod_labels = spec["template"]["metadata"].get("labels") or {}
    pod = spec["template"]["spec"]
    if spec.get("replicas", 1) < 2:
        problems.append(f"{where}: Deployment runs fewer than 2 replicas")
    if not matches(spec["selector"].get("matchLabels"), pod_labels):
        problems.append(f"{where}: the Deployment's selector does not match its pods")
    containers = [c for c in pod["containers"] if c["name"] == service]
    if len(containers) != 1:
        problems.append(f"{where}: no container named {service}")
        continue
    c = containers[0]
    image = c["image"].split("@")[0].rsplit(":", 1)[0] if "/" in c["image"] else c["image"]
    if image != images.get(service):
        problems.append(f"{where}: image {c['image']}, but docker-compose.yml builds {images.get(service)}")
    if image not in kustom_images:
        problems.append(f"{where}: image {image} has no entry under kustomization.yaml's images")
    pod_sc, sc = pod.get("securityContext") or {}, c.get("securityContext") or {}
    either = lambda k: sc.get(k, pod_sc.get(k))
    if either("runAsNonRoot") is not True:
        problems.append(f"{where}: runAsNonRoot is not true")
    if not isinstance(either("runAsUser"), int) or either("runAsUser") == 0:
        problems.append(f"{where}: no fixed non-root runAsUser")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{where}: readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: allowPrivilegeEscalation is not false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        problems.append(f"{where}: capabilities do not drop ALL")
    if (either("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problems.append(f"{where}: seccompProfile is not RuntimeDefault")
    named = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
    if port not in named.values():
        problems.append(f"{where}: the container does not expose {port}, the port compose builds it for")
    resolve = lambda p: named.get(p) if isinstance(p, str) else p
    env = {e["name"]: e for e in c.get("env") or []}
    for name, e in env.items():
        check_key(f"{where} env", name)
        if name in SECRET_ENV and "secretKeyRef" not in (e.get("valueFrom") or {}):
            problems.append(f"{where}: {name} must come from a Secret (secretKeyRef)")
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            secret = examples.get(("Secret", ref["name"]))
            if secret is None or ref["key"] not in (secret.get("stringData") or {}):
                problems.append(f"{where}: {name} reads Secret {ref['name']} key {ref['key']}, which secret.example.yaml does not show")
    if "APP__SERVER__PORT" in env and env["APP__SERVER__PORT"].get("value") != str(port):
        problems.append(f"{where}: APP__SERVER__PORT is not {port}")
    config = {}
    for source in c.get("envFrom") or []:
        if "configMapRef" in source:
            cm = applied.get(("ConfigMap", source["configMapRef"]["name"]))
            if cm is None:
                problems.append(f"{where}: envFrom names ConfigMap {source['configMapRef']['name']}, which no manifest defines")
            else:
                config.update(cm.get("data") or {})
    for probe, path in (("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")):
        get = (c.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != path or resolve(get.get("port")) != port:
            problems.append(f"{where}: {probe} must GET {path} on port {port}")
    for kind in ("requests", "limits"):
        if not {"cpu", "memory"} <= set(((c.get("resources") or {}).get(kind) or {})):
            problems.append(f"{where}: resources.{kind} needs cpu and memory")
    sleep = ((((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep")) or {}).get("seconds", 0)
    # The services give in-flight requests server.shutdown_timeout_seconds (30) after SIGTERM.
    if pod.get("terminationGracePeriodSeconds", 30) < 30 + sleep + 5:
        problems.append(f"{where}: terminationGracePeriodSeconds leaves no time for the 30 s drain")
    spread = [t for t in pod.get("topologySpreadConstraints") or []
              if t.get("topologyKey") == "kubernetes.io/hostname"]
    anti = (pod.get("affinity") or {}).get("podAntiAffinity")
    if not spread and not anti:
        problems.append(f"{where}: replicas are not spread across nodes")
    svc = applied.get(("Service", service))
    if svc is None or not matches(svc["spec"].get("selector"), pod_labels) or not any(
            p["port"] == port and resolve(p.get("targetPort", p["port"])) == port for p in svc["spec"]["ports"]):
        problems.append(f"{where}: no Service {service} sending port {port} to the pods")
    pdb = applied.get(("PodDisruptionBudget", service))
    if pdb is None or not matches(pdb["spec"]["selector"].get("matchLabels"), pod_labels):
        problems.append(f"{where}: no PodDisruptionBudget {service} selecting the pods")
    hpa = applied.get(("HorizontalPodAutoscaler", service))
    if hpa is None or hpa["spec"]["scaleTargetRef"].get("name") != service or hpa["spec"].get("minReplicas", 1) < 2 \
            or not any((m.get("resource") or {}).get("name") == "cpu" for m in hpa["spec"].get("metrics") or []):
        problems.append(f"{where}: no HorizontalPodAutoscaler on CPU for Deployment {service} with at least 2 replicas")
    url = config.get("APP__AUTH_SERVICE__URL")
    if url:
        parts = urlsplit(url)
        host = (parts.hostname or "").split(".")
        if host[0] != "auth-service" or (len(host) > 1 and host[1] != namespace) \
                or parts.port != ports.get("auth-service"):
            problems.append(f"{where}: APP__AUTH_SERVICE__URL {url} is not the auth-service Service "
                            f"(auth-service.{namespace}.svc:{ports.get('auth-service')})")

# Cookies ignore ports: the auth-service's pages need a host name nothing else answers.
hosts = {}
for (kind, _), d in applied.items():
    for rule in (d.get("spec") or {}).get("rules") or [] if kind == "Ingress" else []:
        for p in (rule.get("http") or {}).get("paths") or []:
            hosts.setdefault(rule.get("host"), set()).add(((p.get("backend") or {}).get("service") or {}).get("name"))
auth_hosts = [h for h, backends in hosts.items() if "auth-service" in backends]
if not auth_hosts:
    problems.append(f"{K8S}: no Ingress serves the auth-service under a host name")
for h in auth_hosts:
    if h is None or hosts[h] != {"auth-service"}:
        problems.append(f"{K8S}: the auth-service's host {h or '(any)'} serves {sorted(map(str, hosts[h]))}; it needs a host name of its own")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"{K8S} and docker-compose.yml: consistent with each other and the services' configuration keys; MongoDB and Redis unpublished, MongoDB with authentication")
if pending:
    print(f"deploy/compose: sets keys docs/api.md plans that the services do not read yet: {', '.join(sorted(pending))}")
else:
    print("deploy/compose: every configuration key it sets is one the services read")
PY

# --- deploy/redis/start.sh against a real redis-server ---------------------------------
ensure_apt_package redis-server redis-server
ensure_apt_package redis-cli redis-tools
RULES="$REPO_ROOT/deploy/redis/acl-rules.txt"

# run_start_sh NAME PORT VAR=VALUE... -- ARGS...: runs start.sh (which execs
# redis-server) in the background in RUN_DIR/NAME with these variables, listening on
# PORT, with later redis-server ARGS; its ACL and config files go there too.
run_start_sh() {
    local name=$1 port=$2 dir="$RUN_DIR/$1" vars=() pid i
    shift 2
    while [ "$1" != -- ]; do
        vars+=("$1")
        shift
    done
    shift
    mkdir -p "$dir"
    env ACL_RULES="$RULES" "${vars[@]}" ACL_FILE="$dir/users.acl" \
        sh deploy/redis/start.sh --port "$port" --bind 127.0.0.1 --dir "$dir" \
        --logfile "$dir/redis.log" "$@" >"$dir/start.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for ((i = 0; i < 200; i++)); do
        port_open "$port" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "error: deploy/redis/start.sh ($name) started no server on port $port:" >&2
    tail -n 3 "$dir/start.log" "$dir/redis.log" >&2 2>/dev/null || true
    return 1
}

# acl_redis NAME AUTH_PASSWORD RESOURCE_PASSWORD: a standalone server of acl-rules.txt
# on a free port; sets ACL_PORT and ACL_DIR.
acl_redis() {
    ACL_DIR="$RUN_DIR/redis-$1"
    ACL_PORT=$(free_port)
    run_start_sh "redis-$1" "$ACL_PORT" REDIS_AUTH_SERVICE_PASSWORD="$2" \
        REDIS_RESOURCE_SERVICE_PASSWORD="$3" -- --save "" --appendonly no
}

# as_user PORT USER PASSWORD COMMAND...: a command as that ACL user (the password goes
# through the environment, not the command line); prints Redis's answer.
as_user() {
    local port=$1 user=$2 password=$3
    shift 3
    REDISCLI_AUTH="$password" redis-cli --no-auth-warning -p "$port" --user "$user" "$@" 2>&1 || true
}

# expect WHAT ANSWER PATTERN: ANSWER must match the grep pattern.
expect() {
    if ! grep -q -- "$3" <<<"$2"; then
        echo "error: deploy/redis/start.sh: $1: expected $3, got: $2" >&2
        exit 1
    fi
}

# refused_env WHAT VARIABLE VAR=VALUE...: start.sh with these variables must exit
# non-zero at once, naming VARIABLE and printing no *_PASSWORD value, and leave no ACL
# or config file and no server behind.
refused_env() {
    local what=$1 variable=$2 port out status=0 assignment secret
    shift 2
    port=$(free_port)
    out=$(env ACL_RULES="$RULES" "$@" ACL_FILE="$RUN_DIR/refused/users.acl" \
        timeout 10 sh deploy/redis/start.sh --port "$port" --bind 127.0.0.1 --save "" \
        --dir "$RUN_DIR" 2>&1) || status=$?
    if [ "$status" -eq 0 ] || [ "$status" -eq 124 ]; then
        echo "error: deploy/redis/start.sh accepted $what (exit $status)" >&2
        exit 1
    fi
    if [[ "$out" != *"$variable"* ]]; then
        echo "error: deploy/redis/start.sh refused $what without naming $variable: $out" >&2
        exit 1
    fi
    for assignment in "$@"; do
        [[ "${assignment%%=*}" == *_PASSWORD ]] || continue
        secret=${assignment#*=}
        if [ ${#secret} -ge 8 ] && [[ "$out" == *"$secret"* ]]; then
            echo "error: deploy/redis/start.sh printed a password when refusing $what" >&2
            exit 1
        fi
    done
    if [ -n "$(ls -A "$RUN_DIR/refused")" ] || port_open "$port"; then
        echo "error: deploy/redis/start.sh left a file or a server behind when refusing $what" >&2
        exit 1
    fi
}

# refused WHAT VARIABLE AUTH_PASSWORD RESOURCE_PASSWORD: refused_env with the two
# service users' passwords.
refused() {
    refused_env "$1" "$2" REDIS_AUTH_SERVICE_PASSWORD="$3" REDIS_RESOURCE_SERVICE_PASSWORD="$4"
}

mkdir -p "$RUN_DIR/refused"
good=$(random_password)
refused "a password that reads as ACL rules" REDIS_AUTH_SERVICE_PASSWORD "pw +@all ~* on >x" "$good"
refused "an empty password" REDIS_AUTH_SERVICE_PASSWORD "" "$good"
refused "an unset password" REDIS_RESOURCE_SERVICE_PASSWORD "$good" ""
refused "a 31-character password" REDIS_RESOURCE_SERVICE_PASSWORD "$good" "${good:0:31}"
refused "the placeholder of .env.example" REDIS_AUTH_SERVICE_PASSWORD \
    "replace-me-with-openssl-rand-hex-32" "$good"
echo "deploy/redis/start.sh: refuses empty, unset, short (< 32) and placeholder passwords, naming the variable and printing none"

# Normal passwords: both users get in, nobody else does, each has its rules only.
auth_pw=$(random_password)
resource_pw=$(random_password)
acl_redis normal "$auth_pw" "$resource_pw"
expect "auth-service PING" "$(as_user "$ACL_PORT" auth-service "$auth_pw" PING)" '^PONG$'
expect "resource-service PING" "$(as_user "$ACL_PORT" resource-service "$resource_pw" PING)" '^PONG$'
expect "auth-service with the resource-service's password" \
    "$(as_user "$ACL_PORT" auth-service "$resource_pw" PING)" 'WRONGPASS'
expect "the default user" "$(redis-cli -p "$ACL_PORT" GET session:x 2>&1)" 'NOAUTH'
expect "resource-service SET" "$(as_user "$ACL_PORT" resource-service "$resource_pw" SET session:x y)" 'NOPERM'
expect "auth-service SET" "$(as_user "$ACL_PORT" auth-service "$auth_pw" SET session:x y)" '^OK$'
echo "deploy/redis/start.sh: normal passwords work (PONG for both users), the default user is off"

# A long password full of rule syntax is only a password: the ACL file holds its
# SHA-256 and the user's rules from acl-rules.txt, nothing the password says.
tricky="$(random_password) +@all ~* &* allkeys allcommands nopass on >x"
acl_redis tricky "$tricky" "$resource_pw"
expect "auth-service with the rule-like password" "$(as_user "$ACL_PORT" auth-service "$tricky" PING)" '^PONG$'
expect "auth-service with the password 'x'" "$(as_user "$ACL_PORT" auth-service x PING)" 'WRONGPASS'
expect "auth-service with another password (nopass)" \
    "$(as_user "$ACL_PORT" auth-service "$(random_password)" PING)" 'WRONGPASS'
expect "auth-service outside session:* (~*, allkeys)" \
    "$(as_user "$ACL_PORT" auth-service "$tricky" GET not-a-session)" 'NOPERM'
expect "auth-service FLUSHALL (+@all, allcommands)" \
    "$(as_user "$ACL_PORT" auth-service "$tricky" FLUSHALL)" 'NOPERM'
expect "auth-service PUBLISH outside session:* (&*)" \
    "$(as_user "$ACL_PORT" auth-service "$tricky" PUBLISH other x)" 'NOPERM'
hash=$(printf '%s' "$tricky" | sha256sum | cut -d' ' -f1)
line="user auth-service on #$hash $(sed -n 's/^auth-service //p' "$RULES")"
if ! grep -qxF -- "$line" "$ACL_DIR/users.acl"; then
    echo "error: deploy/redis/start.sh: the ACL file's auth-service line is not its hash and its rules:" >&2
    grep '^user auth-service ' "$ACL_DIR/users.acl" >&2
    exit 1
fi
if grep -qF -- "$tricky" "$ACL_DIR/users.acl" || grep -qF -- "$resource_pw" "$ACL_DIR/users.acl"; then
    echo "error: deploy/redis/start.sh wrote a password in clear into the ACL file" >&2
    exit 1
fi
echo "deploy/redis/start.sh: a password with rule syntax adds no rule (stored as #<sha256>; 'x' and nopass refused)"

# What the Cluster and Sentinel clients of the services need, on the server above: ROLE,
# CLUSTER SLOTS / SHARDS (this server has no cluster support, so Redis answers with that
# error, which it only reaches when the ACL lets the command through), WAIT for the
# auth-service; nothing beyond.
expect "auth-service ROLE" "$(as_user "$ACL_PORT" auth-service "$tricky" ROLE)" '^master$'
expect "resource-service ROLE" "$(as_user "$ACL_PORT" resource-service "$resource_pw" ROLE)" '^master$'
expect "auth-service WAIT" "$(as_user "$ACL_PORT" auth-service "$tricky" WAIT 0 0)" '^0$'
for user_pw in "auth-service $tricky" "resource-service $resource_pw"; do
    user=${user_pw%% *}
    for subcommand in SLOTS SHARDS; do
        expect "$user CLUSTER $subcommand" "$(as_user "$ACL_PORT" "$user" "${user_pw#* }" CLUSTER "$subcommand")" \
            'cluster support disabled'
    done
    expect "$user CLUSTER NODES" "$(as_user "$ACL_PORT" "$user" "${user_pw#* }" CLUSTER NODES)" 'NOPERM'
    expect "$user READONLY" "$(as_user "$ACL_PORT" "$user" "${user_pw#* }" READONLY)" 'NOPERM'
done
expect "resource-service WAIT" "$(as_user "$ACL_PORT" resource-service "$resource_pw" WAIT 0 0)" 'NOPERM'
echo "deploy/redis/acl-rules.txt: both service users may run ROLE and CLUSTER SLOTS / SHARDS, the auth-service WAIT; not CLUSTER NODES or READONLY"

# --- the replicated topologies on real servers: Redis Cluster and Sentinel -------------
REPLICATED_RULES="$RULES:$REPO_ROOT/deploy/redis/acl-rules-replicated.txt"
SENTINEL_RULES="$REPO_ROOT/deploy/redis/sentinel-acl-rules.txt"
admin_pw=$(random_password)
sentinel_client_pw=$(random_password)
# Rule syntax, double quotes and a backslash: start.sh has to quote it in the config
# file (masterauth, sentinel auth-pass) or no replica would ever sync.
replication_pw="$(random_password) \"quoted\" back\\slash +@all nopass"
DATA_NODE=(ACL_RULES="$REPLICATED_RULES" REDIS_MASTERUSER=replication
    REDIS_AUTH_SERVICE_PASSWORD="$auth_pw" REDIS_RESOURCE_SERVICE_PASSWORD="$resource_pw"
    REDIS_REPLICATION_PASSWORD="$replication_pw" REDIS_ADMIN_PASSWORD="$admin_pw")

refused_env "a REDIS_MASTERUSER no rules file defines" REDIS_MASTERUSER \
    "${DATA_NODE[@]}" REDIS_MASTERUSER=replica
refused_env "the replicated topologies without REDIS_ADMIN_PASSWORD" REDIS_ADMIN_PASSWORD \
    "${DATA_NODE[@]}" REDIS_ADMIN_PASSWORD=
refused_env "a replication password with a line break" REDIS_REPLICATION_PASSWORD \
    "${DATA_NODE[@]}" REDIS_REPLICATION_PASSWORD="$(random_password)
masterauth x"
refused_env "a sentinel without REDIS_SENTINEL_CLIENT_PASSWORD" REDIS_SENTINEL_CLIENT_PASSWORD \
    ACL_RULES="$SENTINEL_RULES" SENTINEL_CONFIG="$REPO_ROOT/deploy/redis/sentinel.conf" \
    REDIS_MASTERUSER=replication REDIS_REPLICATION_PASSWORD="$(random_password)" \
    REDIS_ADMIN_PASSWORD="$admin_pw"
echo "deploy/redis/start.sh: refuses an unknown REDIS_MASTERUSER, a missing password of the replicated users, a password that would break the config file"

# admin PORT COMMAND...: a command as the admin user of the replicated topologies.
admin() {
    local port=$1
    shift
    as_user "$port" admin "$admin_pw" "$@"
}

# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it succeeds.
wait_for() {
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    echo "error: $what: not after ${limit}s" >&2
    return 1
}

# no_acl_denials WHAT PORT...: ACL LOG is empty on every server (as admin).
no_acl_denials() {
    local what=$1 port log
    shift
    for port in "$@"; do
        log=$(admin "$port" ACL LOG)
        if [ -n "$log" ]; then
            echo "error: $what: Redis on port $port denied a command by ACL:" >&2
            echo "$log" >&2
            exit 1
        fi
    done
}

# Redis Cluster: six nodes as compose runs them (start.sh with both rules files and
# deploy/redis/cluster.conf), made one cluster by deploy/redis/cluster-init.sh.
cluster_nodes=()
cluster_ports=()
for i in 1 2 3 4 5 6; do
    port=$(free_port)
    run_start_sh "cluster-$i" "$port" "${DATA_NODE[@]}" -- --save "" --appendonly no \
        --include "$REPO_ROOT/deploy/redis/cluster.conf" --cluster-port "$(free_port)" \
        --cluster-announce-hostname localhost
    cluster_nodes+=("127.0.0.1:$port")
    cluster_ports+=("$port")
done
started=$SECONDS
if ! REDIS_ADMIN_PASSWORD="$admin_pw" REDIS_CLUSTER_NODES="${cluster_nodes[*]}" CLUSTER_WAIT_SECONDS=30 \
    sh deploy/redis/cluster-init.sh >"$RUN_DIR/cluster-init.log" 2>&1; then
    tail -n 20 "$RUN_DIR/cluster-init.log" >&2
    echo "error: deploy/redis/cluster-init.sh did not make the six nodes a cluster" >&2
    exit 1
fi
replicas_synced() {
    local port up=0 masters=0
    for port in "${cluster_ports[@]}"; do
        case "$(admin "$port" INFO replication | tr -d '\r')" in
            *role:master*) masters=$((masters + 1)) ;;
            *master_link_status:up*) up=$((up + 1)) ;;
        esac
    done
    [ "$masters" -eq 3 ] && [ "$up" -eq 3 ]
}
wait_for 20 "3 masters and 3 replicas in sync (the replicas log in as replication)" replicas_synced
first=${cluster_ports[0]}
expect "auth-service CLUSTER SLOTS" "$(as_user "$first" auth-service "$auth_pw" CLUSTER SLOTS)" '^localhost$'
expect "resource-service CLUSTER SHARDS" "$(as_user "$first" resource-service "$resource_pw" CLUSTER SHARDS)" '^localhost$'
for key in a b c d e f; do
    expect "auth-service SET session:$key, following redirects" \
        "$(as_user "$first" auth-service "$auth_pw" -c SET "session:$key" "$key")" '^OK$'
    expect "resource-service GET session:$key, following redirects" \
        "$(as_user "$first" resource-service "$resource_pw" -c GET "session:$key")" "^$key\$"
done
no_acl_denials "the cluster" "${cluster_ports[@]}"
expect "resource-service SET in the cluster" \
    "$(as_user "$first" resource-service "$resource_pw" -c SET session:a x)" 'NOPERM'
expect "deploy/redis/cluster-init.sh run again" \
    "$(REDIS_ADMIN_PASSWORD="$admin_pw" REDIS_CLUSTER_NODES="${cluster_nodes[*]}" sh deploy/redis/cluster-init.sh 2>&1)" \
    'the cluster exists, nothing to create'
echo "deploy/redis: a 6-node Redis Cluster by cluster-init.sh in $((SECONDS - started)) s; replicas in sync as replication; the service users read the slot map (announced hostname) and follow redirects; no ACL denial"

# Sentinel: a master and a replica (start.sh, both rules files) and three sentinels
# (start.sh with deploy/redis/sentinel.conf, watching the master here instead of the
# compose service redis). The master is stopped (SIGSTOP): the sentinels must agree
# it is down (among themselves as replication), promote the replica, and turn the old
# master into a replica once it is back (REPLICAOF and CONFIG REWRITE as replication).
master_port=$(free_port)
replica_port=$(free_port)
run_start_sh sentinel-master "$master_port" "${DATA_NODE[@]}" -- --save "" --appendonly no \
    --replica-announce-ip 127.0.0.1
master_pid=${PIDS[-1]}
run_start_sh sentinel-replica "$replica_port" "${DATA_NODE[@]}" -- --save "" --appendonly no \
    --replica-announce-ip 127.0.0.1 --replicaof 127.0.0.1 "$master_port"
master_name=$(awk '$1 == "sentinel" && $2 == "monitor" { print $3; exit }' deploy/redis/sentinel.conf)
sed -E "s/^(sentinel monitor [^ ]+) [^ ]+ [0-9]+ /\\1 127.0.0.1 $master_port /" deploy/redis/sentinel.conf \
    >"$RUN_DIR/sentinel.conf"
grep -q "^sentinel monitor $master_name 127.0.0.1 $master_port " "$RUN_DIR/sentinel.conf"
sentinel_ports=()
for i in 1 2 3; do
    port=$(free_port)
    run_start_sh "sentinel-$i" "$port" ACL_RULES="$SENTINEL_RULES" SENTINEL_CONFIG="$RUN_DIR/sentinel.conf" \
        SENTINEL_ANNOUNCE_HOSTNAME=127.0.0.1 REDIS_MASTERUSER=replication \
        REDIS_REPLICATION_PASSWORD="$replication_pw" REDIS_SENTINEL_CLIENT_PASSWORD="$sentinel_client_pw" \
        REDIS_ADMIN_PASSWORD="$admin_pw" --
    sentinel_ports+=("$port")
done
sentinels_see_all() {
    local port info
    for port in "${sentinel_ports[@]}"; do
        info=$(admin "$port" SENTINEL MASTER "$master_name" | tr -d '\r' | paste -sd' ')
        [[ "$info" == *"num-slaves 1 "* && "$info" == *"num-other-sentinels 2 "* ]] || return 1
    done
}
wait_for 20 "each sentinel sees the replica and the two other sentinels" sentinels_see_all
ask_master() {
    as_user "${sentinel_ports[0]}" sentinel-client "$sentinel_client_pw" \
        SENTINEL GET-MASTER-ADDR-BY-NAME "$master_name" | tail -n 1
}
expect "sentinel-client GET-MASTER-ADDR-BY-NAME" "$(ask_master)" "^$master_port\$"
expect "the sentinels' default user" "$(redis-cli -p "${sentinel_ports[0]}" PING 2>&1)" 'NOAUTH'
for port in "${sentinel_ports[@]}"; do
    # Faster than sentinel.conf's 5 s, for this check only.
    expect "admin SENTINEL SET" "$(admin "$port" SENTINEL SET "$master_name" down-after-milliseconds 1000)" '^OK$'
done
started=$SECONDS
kill -STOP "$master_pid"
replica_promoted() {
    [ "$(ask_master)" = "$replica_port" ]
}
promoted=0
wait_for 30 "the sentinels promote the replica of the stopped master" replica_promoted || promoted=$?
kill -CONT "$master_pid"
[ "$promoted" -eq 0 ] || exit 1
failover=$((SECONDS - started))
old_master_follows() {
    [[ "$(admin "$master_port" INFO replication | tr -d '\r')" == *master_port:$replica_port*master_link_status:up* ]]
}
wait_for 40 "the old master follows the new one once it is back" old_master_follows
no_acl_denials "the Sentinel topology" "$master_port" "$replica_port" "${sentinel_ports[@]}"
expect "sentinel-client SENTINEL FAILOVER" \
    "$(as_user "${sentinel_ports[0]}" sentinel-client "$sentinel_client_pw" SENTINEL FAILOVER "$master_name")" 'NOPERM'
echo "deploy/redis: Sentinel (1 master, 1 replica, 3 sentinels) failed over in ${failover} s after SIGSTOP, the old master came back as a replica; sentinel-client finds the master and nothing more; no ACL denial"

# --- the image build, replayed without a container engine -----------------------------
# scripts/image-replay.py puts exactly the files deploy/Dockerfile's build stage copies
# (less .dockerignore) in a temporary tree and runs cargo metadata and cargo check of
# each service there: a workspace member, lock file or source the image would miss fails
# here, naming the path. make images-test builds and runs the images for real.
python3 scripts/image-replay.py
# The replay must catch what broke the images before: a build stage that copies the
# manifests, crates/ and services/ but not every member (cargo metadata is enough).
sed 's|^COPY \. \.$|COPY Cargo.toml Cargo.lock ./\nCOPY crates crates\nCOPY services services|' \
    deploy/Dockerfile >"$RUN_DIR/Dockerfile.partial"
if ! grep -q '^COPY crates crates$' "$RUN_DIR/Dockerfile.partial"; then
    echo "error: the replay's self-test found no 'COPY . .' line in deploy/Dockerfile to narrow" >&2
    exit 1
fi
if python3 scripts/image-replay.py --metadata-only --dockerfile "$RUN_DIR/Dockerfile.partial" \
    >"$RUN_DIR/replay-partial.log" 2>&1; then
    echo "error: the image replay passed a build stage that copies only crates/ and services/" >&2
    exit 1
fi
if ! grep -q '^image replay: auth-service: error: failed to load manifest for workspace member' \
    "$RUN_DIR/replay-partial.log"; then
    cat "$RUN_DIR/replay-partial.log" >&2
    echo "error: the image replay failed the narrowed build stage, but not for its missing member" >&2
    exit 1
fi
echo "image replay: a build stage that copies only crates/ and services/ fails as it should ($(grep -m1 'is in the workspace but' "$RUN_DIR/replay-partial.log" | sed 's/^image replay: //'))"

# Every link of the README and docs/ resolves (files, and #anchors to headings).
python3 scripts/check-links.py
