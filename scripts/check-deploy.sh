#!/usr/bin/env bash
# What CI can check of the deployment without a Docker engine: docker-compose accepts
# the file, and for every image it builds (deploy/Dockerfile once per SERVICE build
# argument) the COPY sources, the cargo package, the binary and the ENTRYPOINT /
# HEALTHCHECK paths exist; SERVICE must name a workspace binary and PORT the port that
# compose publishes; the files compose mounts exist.
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$REPO_ROOT"

ensure_apt_package docker-compose docker-compose
docker-compose --env-file .env.example -f docker-compose.yml config -q
echo "docker-compose.yml: accepted"

metadata="${TMPDIR:-/tmp}/session-store-metadata-$$.json"
trap 'rm -f "$metadata"' EXIT
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
