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
#   placeholder passwords and never lets a password add ACL rules.
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

RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/session-store-check-XXXXXX")
PIDS=()
trap 'stop_pids "${PIDS[@]}"; rm -rf "$RUN_DIR"' EXIT
trap 'exit 130' INT TERM

ensure_apt_package docker-compose docker-compose
docker-compose --env-file .env.example -f docker-compose.yml config -q
docker-compose --env-file .env.example -f docker-compose.yml --profile gateway config -q
echo "docker-compose.yml: accepted (also with --profile gateway)"

metadata="$RUN_DIR/metadata.json"
cargo metadata --format-version 1 --no-deps >"$metadata"
python3 - "$metadata" <<'PY'
import json, os, re, sys

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
# values (the three placeholders, nothing else) into a minimal main nginx.conf whose
# every path is in a temporary directory, and runs `nginx -t` on it (which resolves the
# upstream hosts, so give it addresses).
nginx_check() {
    local dir="$RUN_DIR/nginx-$1"
    mkdir -p "$dir"
    GATEWAY_PORT=$2 AUTH_SERVICE=$3 UPSTREAM=$4 python3 -c '
import os, re, sys
text = open(sys.argv[1]).read()
sys.stdout.write(re.sub(r"\$\{(GATEWAY_PORT|AUTH_SERVICE|UPSTREAM)\}", lambda m: os.environ[m.group(1)], text))
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
import os, re, sys
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

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"{K8S} and docker-compose.yml: consistent with each other and the services' configuration keys; MongoDB and Redis unpublished, MongoDB with authentication")
PY

# --- deploy/redis/start.sh against a real redis-server ---------------------------------
ensure_apt_package redis-server redis-server
ensure_apt_package redis-cli redis-tools
RULES="$REPO_ROOT/deploy/redis/acl-rules.txt"

# random_password: 32 hex characters, like `openssl rand -hex 16`.
random_password() {
    python3 -c 'import secrets; print(secrets.token_hex(16))'
}

# acl_redis NAME AUTH_PASSWORD RESOURCE_PASSWORD: runs start.sh (which execs
# redis-server) in the background on a free port; sets ACL_PORT and ACL_DIR.
acl_redis() {
    ACL_DIR="$RUN_DIR/redis-$1"
    ACL_PORT=$(free_port)
    mkdir -p "$ACL_DIR"
    ACL_RULES="$RULES" ACL_FILE="$ACL_DIR/users.acl" \
        REDIS_AUTH_SERVICE_PASSWORD="$2" REDIS_RESOURCE_SERVICE_PASSWORD="$3" \
        sh deploy/redis/start.sh --port "$ACL_PORT" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$ACL_DIR" --logfile "$ACL_DIR/redis.log" >"$ACL_DIR/start.log" 2>&1 &
    local pid=$! i
    PIDS+=("$pid")
    for ((i = 0; i < 200; i++)); do
        port_open "$ACL_PORT" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "error: deploy/redis/start.sh with the $1 passwords started no redis-server:" >&2
    tail -n 3 "$ACL_DIR/start.log" "$ACL_DIR/redis.log" >&2 2>/dev/null || true
    return 1
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

# refused WHAT VARIABLE AUTH_PASSWORD RESOURCE_PASSWORD: start.sh must exit non-zero
# at once, naming VARIABLE and printing neither password, and start no redis-server.
refused() {
    local what=$1 variable=$2 auth=$3 resource=$4 port out status=0
    port=$(free_port)
    out=$(ACL_RULES="$RULES" ACL_FILE="$RUN_DIR/refused.acl" \
        REDIS_AUTH_SERVICE_PASSWORD="$auth" REDIS_RESOURCE_SERVICE_PASSWORD="$resource" \
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
    for secret in "$auth" "$resource"; do
        if [ ${#secret} -ge 8 ] && [[ "$out" == *"$secret"* ]]; then
            echo "error: deploy/redis/start.sh printed a password when refusing $what" >&2
            exit 1
        fi
    done
    if [ -e "$RUN_DIR/refused.acl" ] || port_open "$port"; then
        echo "error: deploy/redis/start.sh left an ACL file or a server behind when refusing $what" >&2
        exit 1
    fi
}

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
