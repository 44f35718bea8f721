"""The external tools the checks run, and the one way they report problems."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tool(name):
    """The path of an external tool; fails the test (never skips) when it is missing."""
    venv = os.path.join(ROOT, ".venv-tools", "bin", name)
    path = venv if os.access(venv, os.X_OK) else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; run bash scripts/check-deploy.sh, which installs it")
    return path


def run(args, *, ok=True, **kwargs):
    """Runs a command, capturing its output; with ok, fails the test with that output
    when it exits non-zero."""
    kwargs.setdefault("cwd", ROOT)
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if ok and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {result.returncode}:\n"
                    f"{result.stdout}{result.stderr}")
    return result


def assert_no_problems(problems):
    """Fails naming every problem found (one line each)."""
    assert not problems, "\n" + "\n".join(problems)
