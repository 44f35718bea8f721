#!/usr/bin/env bash
# What CI can check of the deployment without a Docker engine: docker-compose accepts
# the file, and every Dockerfile's COPY sources, cargo packages and ENTRYPOINT /
# HEALTHCHECK binaries exist in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing docker-compose from Debian's packages" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >&2
    else
        echo "error: docker-compose is missing; install it with: sudo apt-get install -y docker-compose" >&2
        exit 1
    fi
fi
docker-compose --env-file .env.example -f docker-compose.yml config -q
echo "docker-compose.yml: accepted"

cargo metadata --format-version 1 --no-deps >"${TMPDIR:-/tmp}/session-store-metadata.json"
python3 - "${TMPDIR:-/tmp}/session-store-metadata.json" <<'PY'
import json, os, re, shlex, sys

meta = json.load(open(sys.argv[1]))
packages = {p["name"] for p in meta["packages"]}
bins = {t["name"] for p in meta["packages"] for t in p["targets"] if "bin" in t["kind"]}
problems = []
for name in sorted(os.listdir("deploy")):
    if not name.endswith("Dockerfile"):
        continue
    path = os.path.join("deploy", name)
    text = open(path).read().replace("\\\n", " ")
    for line in text.splitlines():
        words = line.strip().split()
        if not words or words[0].startswith("#"):
            continue
        op = words[0].upper()
        if op == "COPY" and not any(w.startswith("--from") for w in words):
            for src in words[1:-1]:
                if not src.startswith("--") and not os.path.exists(src):
                    problems.append(f"{path}: COPY source {src} does not exist")
        for pkg in re.findall(r"cargo build [^&;]*?-p ([\w-]+)", line):
            if pkg not in packages:
                problems.append(f"{path}: cargo package {pkg} is not in the workspace")
        if op in ("ENTRYPOINT", "CMD") or (op == "HEALTHCHECK" and "CMD" in words):
            for binary in re.findall(r'"/usr/local/bin/([\w-]+)"', line):
                if binary not in bins:
                    problems.append(f"{path}: {op} runs {binary}, which no workspace package builds")
    print(f"{path}: checked")
for src in re.findall(r"^\s*- (\./[^:\s]+):", open("docker-compose.yml").read(), re.M):
    if not os.path.exists(src):
        problems.append(f"docker-compose.yml mounts {src}, which does not exist")
for svc in ("auth-service", "resource-service"):
    if not os.path.exists(f"deploy/{svc}.Dockerfile"):
        problems.append(f"deploy/{svc}.Dockerfile is missing")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
PY
