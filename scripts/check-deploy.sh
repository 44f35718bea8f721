#!/usr/bin/env bash
# What CI can check of the deployment without a Docker engine or a cluster: the pytest
# suite deploy/checks (see deploy/checks/README.md for what it covers, one named test
# per check). This installs the tools the checks run, as the other scripts here do
# (Debian's packages when missing; pytest, PyYAML and kubernetes-validate at the
# versions of deploy/checks/requirements.txt in .venv-tools), then runs the suite.
# Arguments go to pytest: bash scripts/check-deploy.sh -k kubernetes
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$REPO_ROOT"

ensure_apt_package docker-compose docker-compose
ensure_apt_package promtool prometheus
ensure_apt_package nginx nginx
ensure_apt_package redis-server redis-server
ensure_apt_package redis-cli redis-tools

# The pinned Python tools, in .venv-tools; reinstalled when one is missing or at
# another version (sed reads pip's whole answer: see ensure_tool in scripts/test.sh).
TOOLS_VENV="$REPO_ROOT/.venv-tools"
REQUIREMENTS=deploy/checks/requirements.txt
ensure_check_tools() {
    local name version
    while IFS='=' read -r name version; do
        version=${version#=}
        [ -n "$name" ] || continue
        if [ ! -x "$TOOLS_VENV/bin/pip" ] ||
            [ "$("$TOOLS_VENV/bin/pip" show "$name" 2>/dev/null | sed -n 's/^Version: //p')" != "$version" ]; then
            echo "installing $REQUIREMENTS into .venv-tools" >&2
            python3 -m venv "$TOOLS_VENV" >&2 && "$TOOLS_VENV/bin/pip" install -q -r "$REQUIREMENTS" >&2
            return
        fi
    done <"$REQUIREMENTS"
}
ensure_check_tools

PYTHONDONTWRITEBYTECODE=1 exec "$TOOLS_VENV/bin/python" -m pytest deploy/checks -q -rs -p no:cacheprovider "$@"
