"""deploy/mongo and deploy/grafana: the entrypoints that guard a secret refuse a missing,
short or placeholder one before they start anything (the real start needs the images:
not run here); and their helper scripts parse."""

import ast
import os
import secrets
import shutil
import subprocess

import pytest

from tools import ROOT, run

PLACEHOLDER = "replace-me-with-openssl-rand-hex-32"


def refuses(script, variable, value):
    """Runs script with only PATH and variable=value: it must exit 1 saying error:."""
    result = subprocess.run(["timeout", "10", "sh", script], env={"PATH": os.environ["PATH"], variable: value},
                            capture_output=True, text=True, cwd=ROOT)
    out = result.stdout + result.stderr
    assert result.returncode == 1 and "error:" in out, \
        f"{script} did not refuse {variable}='{value}' (exit {result.returncode}): {out}"


@pytest.mark.parametrize("value", ["", "short", PLACEHOLDER, secrets.token_hex(16) + "G"],
                         ids=["empty", "short", "placeholder", "not-hex"])
def test_mongo_member_refuses_a_weak_replica_set_key(value):
    """deploy/mongo/replica-set-member.sh refuses an empty, short, placeholder or non-hex key."""
    refuses("deploy/mongo/replica-set-member.sh", "MONGO_REPLICA_SET_KEY", value)


@pytest.mark.parametrize("value", ["", "short-password", PLACEHOLDER], ids=["empty", "short", "placeholder"])
def test_grafana_start_refuses_a_weak_admin_password(value):
    """deploy/grafana/start.sh refuses an empty, short or placeholder admin password."""
    refuses("deploy/grafana/start.sh", "GF_SECURITY_ADMIN_PASSWORD", value)


def test_init_replica_set_js_parses():
    """node --check deploy/mongo/init-replica-set.js. Conditional, as in the shell script
    it replaces: when node is not installed this check is skipped (reported as such)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: init-replica-set.js not parsed")
    run([node, "--check", "deploy/mongo/init-replica-set.js"])


@pytest.mark.parametrize("script", ["deploy/grafana/render.py", "deploy/grafana/load.py"])
def test_grafana_python_scripts_parse(script):
    """The Grafana helper scripts are valid Python."""
    ast.parse(open(os.path.join(ROOT, script)).read(), script)
