"""Fixtures of the deployment checks: the repository's files parsed once, compose's
merged view of each topology, cargo's view of the workspace, and the external tools.

A tool the checks need and cannot find fails the test that needs it (scripts/check-deploy.sh
installs them first); nothing is skipped for a missing tool, except where the check
itself is conditional (named in that test's docstring)."""

import json
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from compose_files import ROOT, TOPOLOGY_FILES, Topology, compose_config, config_key, load_yaml  # noqa: E402
from tools import run, tool  # noqa: E402


def pytest_configure(config):
    os.chdir(ROOT)


@pytest.fixture(scope="session")
def compose():
    """docker-compose.yml as written (not merged)."""
    return load_yaml("docker-compose.yml")


@pytest.fixture(scope="session")
def compose_services(compose):
    return compose.get("services") or {}


@pytest.fixture(scope="session")
def distinct_env(tmp_path_factory):
    """.env.example with a value of its own for every variable (value-of-NAME), so that
    mixed-up passwords show in compose's merged view."""
    path = tmp_path_factory.mktemp("compose") / "distinct.env"
    with open(os.path.join(ROOT, ".env.example")) as f:
        path.write_text("".join(re.sub(r"^([A-Z0-9_]+)=.*", r"\1=value-of-\1", line) for line in f))
    return str(path)


@pytest.fixture(scope="session")
def merged_observability(distinct_env):
    """Compose's merged view of docker-compose.yml with the observability profile."""
    return compose_config(distinct_env, ["docker-compose.yml"], ["observability"])["services"]


@pytest.fixture(scope="session")
def topologies(distinct_env):
    """Each deploy/compose/*.yml as compose merges it over docker-compose.yml."""
    return [Topology(path, compose_config(distinct_env, ["docker-compose.yml", path])["services"])
            for path in TOPOLOGY_FILES]


@pytest.fixture(scope="session")
def cargo_metadata():
    """cargo metadata of the workspace (no dependencies)."""
    return json.loads(run([tool("cargo"), "metadata", "--format-version", "1", "--no-deps"]).stdout)


@pytest.fixture(scope="session")
def workspace_packages(cargo_metadata):
    return {p["name"] for p in cargo_metadata["packages"]}


@pytest.fixture(scope="session")
def workspace_binaries(cargo_metadata):
    return {t["name"] for p in cargo_metadata["packages"] for t in p["targets"] if "bin" in t["kind"]}


@pytest.fixture(scope="session")
def settings_keys():
    """The configuration keys the services read, from docs/api.md's key table (a test in
    sessionctl holds that table equal to the keys of the services' settings types); any
    other APP__ variable stops a service at start."""
    with open(os.path.join(ROOT, "docs/api.md")) as f:
        doc = f.read()
    start = doc.find("## Configuration")
    if start < 0:
        pytest.fail("docs/api.md has no ## Configuration; update deploy/checks")
    section = doc[start:]
    end = section.find("\n## ", 3)
    keys = set()
    for line in section[: end if end >= 0 else len(section)].splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            keys.update(k for k in re.findall(r"`([a-z_.]+)`", first) if "." in k)
    if not keys:
        pytest.fail("docs/api.md's configuration table names no key; update deploy/checks")
    return keys


@pytest.fixture(scope="session")
def unknown_key(settings_keys):
    """A function: the problem with an environment variable name, or None when it is no
    APP__ variable or one the services know (an entry under a map key such as
    jwt.verification_keys included)."""
    known = settings_keys

    def problem(where, name):
        if not name.startswith("APP__"):
            return None
        key = config_key(name)
        if key not in known and not any(key.startswith(k + ".") for k in known):
            return f"{where}: {name} is no configuration key the services know ({key})"
        return None

    return problem


@pytest.fixture(scope="session")
def built_services(compose_services):
    """SERVICE build arg -> (compose service, PORT as int, image) of what compose builds."""
    built = {}
    for name, svc in compose_services.items():
        args = (svc.get("build") or {}).get("args") or {}
        if isinstance(args, dict) and args.get("SERVICE"):
            built[args["SERVICE"]] = (name, int(args["PORT"]), svc.get("image"))
    return built
