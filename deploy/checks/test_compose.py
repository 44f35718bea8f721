"""docker-compose.yml and the topologies of deploy/compose: compose accepts them, what
they mount exists, only docker-compose.yml builds images, the stores stay private and
every APP__ variable is a configuration key the services know."""

import os
import re

import pytest

from compose_files import TOPOLOGY_FILES, compose_config, config_key, load_yaml, volume_source
from tools import ROOT, assert_no_problems

ENV_EXAMPLE = ".env.example"


@pytest.mark.parametrize("profiles", [(), ("gateway",), ("observability",)],
                         ids=["default", "gateway", "observability"])
def test_docker_compose_accepts_the_file(profiles):
    """docker-compose config -q accepts docker-compose.yml with .env.example, per profile."""
    compose_config(ENV_EXAMPLE, ["docker-compose.yml"], profiles, quiet=True)


@pytest.mark.parametrize("override", TOPOLOGY_FILES)
def test_docker_compose_accepts_each_topology_over_the_main_file(override):
    """docker-compose -f docker-compose.yml -f <topology> config -q succeeds."""
    compose_config(ENV_EXAMPLE, ["docker-compose.yml", override], quiet=True)


@pytest.mark.parametrize("redis_topology", ["deploy/compose/cluster.yml", "deploy/compose/sentinel.yml"])
def test_docker_compose_accepts_a_redis_topology_with_the_mongo_replica_set(redis_topology):
    """A Redis topology and the MongoDB replica set combine, as the files say they do."""
    compose_config(ENV_EXAMPLE, ["docker-compose.yml", redis_topology, "deploy/compose/mongo-replica-set.yml"],
                   ["observability"], quiet=True)


@pytest.mark.parametrize("path", ["docker-compose.yml"] + TOPOLOGY_FILES)
def test_every_file_compose_mounts_exists(path):
    """Every relative volume source (relative to docker-compose.yml's folder) exists."""
    problems = []
    for name, svc in sorted((load_yaml(path).get("services") or {}).items()):
        for volume in svc.get("volumes") or []:
            src = volume_source(volume)
            if src.startswith(".") and not os.path.exists(os.path.join(ROOT, src)):
                problems.append(f"{path} service {name} mounts {src}, which does not exist")
    assert_no_problems(problems)


@pytest.mark.parametrize("path", TOPOLOGY_FILES)
def test_only_docker_compose_yml_builds_images(path):
    """A topology override never builds an image of its own."""
    problems = [f"{path} service {name} builds an image; only docker-compose.yml builds them"
                for name, svc in sorted((load_yaml(path).get("services") or {}).items()) if svc.get("build")]
    assert_no_problems(problems)


@pytest.mark.parametrize("store", ["redis", "mongo"])
def test_stores_publish_no_port_to_the_host(compose_services, store):
    """Redis and MongoDB keep to the services' network."""
    assert not (compose_services.get(store) or {}).get("ports"), \
        f"docker-compose.yml service {store} publishes a port to the host"


def test_mongo_runs_with_authentication(compose_services):
    """MongoDB gets a root user (MONGO_INITDB_ROOT_USERNAME and _PASSWORD)."""
    env = (compose_services.get("mongo") or {}).get("environment") or {}
    assert {"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"} <= set(env), \
        "docker-compose.yml service mongo runs without authentication (MONGO_INITDB_ROOT_*)"


def test_auth_service_reaches_mongo_as_its_own_user(compose_services):
    """The auth-service's APP__MONGODB__URI logs in as auth-service, not as root."""
    uri = str(((compose_services.get("auth-service") or {}).get("environment") or {}).get("APP__MONGODB__URI", ""))
    assert re.match(r"mongodb://auth-service:[^@]+@", uri) and "ROOT" not in uri, \
        f"docker-compose.yml: the auth-service must reach MongoDB as its own user auth-service, not root ({uri})"


def test_every_app_variable_of_docker_compose_is_a_known_configuration_key(compose_services, unknown_key):
    """Any APP__ variable the services do not know would stop them at start."""
    problems = [unknown_key(f"docker-compose.yml service {name}", var)
                for name, svc in compose_services.items() for var in svc.get("environment") or {}]
    assert_no_problems([p for p in problems if p])


def planned_keys():
    """The keys docs/api.md's "Planned" table lists (the contract's, not read yet)."""
    api = open(os.path.join(ROOT, "docs/api.md")).read()
    section = re.search(r"^### Planned\n(.*?)(?=^#|\Z)", api, re.M | re.S)
    return {k for line in (section.group(1).splitlines() if section else []) if line.startswith("| `")
            for k in re.findall(r"`([a-z0-9_.]+)`", line.split("|")[1])}


@pytest.mark.parametrize("path", TOPOLOGY_FILES)
def test_every_app_variable_of_a_topology_is_a_known_or_planned_key(path, settings_keys, unknown_key):
    """A topology may also set keys docs/api.md plans (named in the test's output, not
    refused); any other unknown APP__ variable fails."""
    known = settings_keys
    planned = planned_keys()
    problems, pending = [], set()
    for name, svc in sorted((load_yaml(path).get("services") or {}).items()):
        for var in svc.get("environment") or {}:
            key = config_key(var)
            if var.startswith("APP__") and key in planned and key not in known:
                pending.add(key)
            elif (p := unknown_key(f"{path} service {name}", var)):
                problems.append(p)
    if pending:
        print(f"{path}: sets keys docs/api.md plans that the services do not read yet: {', '.join(sorted(pending))}")
    assert_no_problems(problems)


def test_env_example_lists_every_compose_variable():
    """Every ${VAR} without a default in the compose files has a line in .env.example
    (compose config with .env.example, above, would warn and blank it otherwise)."""
    example = {line.split("=", 1)[0] for line in open(os.path.join(ROOT, ENV_EXAMPLE)) if "=" in line
               and not line.startswith("#")}
    problems = []
    for path in ["docker-compose.yml"] + TOPOLOGY_FILES:
        text = open(os.path.join(ROOT, path)).read()
        for var in sorted(set(re.findall(r"\$\{(\w+)(?::?[-?][^}]*)?\}", text))):
            uses = re.findall(r"\$\{" + var + r"(:?[-?][^}]*)?\}", text)
            if var not in example and any(u == "" or u.lstrip(":").startswith("?") for u in uses):
                problems.append(f"{path} uses ${{{var}}}, which .env.example does not set")
    assert_no_problems(problems)



def test_every_service_waited_for_as_healthy_has_a_healthcheck(compose_services, merged_observability, topologies):
    """A service that another waits for with condition service_healthy defines a
    healthcheck (else `docker-compose up` never starts the waiting one). Not in the
    shell script: added with the port to pytest."""
    views = [("docker-compose.yml", compose_services), ("docker-compose.yml --profile observability", merged_observability)]
    views += [(t.path, t.services) for t in topologies]
    problems = []
    for where, services in views:
        for name, svc in sorted(services.items()):
            deps = svc.get("depends_on") or {}
            for dep, how in (deps.items() if isinstance(deps, dict) else []):
                if (how or {}).get("condition") == "service_healthy" and \
                        not ((services.get(dep) or {}).get("healthcheck") or {}).get("test"):
                    problems.append(f"{where}: {name} waits for {dep} to be healthy, but {dep} has no healthcheck")
    assert_no_problems(problems)
