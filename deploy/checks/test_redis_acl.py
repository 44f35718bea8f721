"""deploy/redis/start.sh against a real redis-server: it refuses empty, short and
placeholder passwords and never lets a password add ACL rules; the users of
deploy/redis/acl-rules.txt get in with their passwords and do only what their rules
say; the service users may run what the Cluster and Sentinel clients need (ROLE,
CLUSTER SLOTS / SHARDS, WAIT) and nothing beyond."""

import hashlib
import os
import subprocess

import pytest

from redis_servers import (REPLICATED_RULES, RULES, SENTINEL_RULES, START_SH, RedisServers, expect, free_port,
                           port_open, random_password, redis_cli, start_env)
from tools import ROOT

GOOD = random_password()
ADMIN = random_password()
DATA_NODE = {"ACL_RULES": REPLICATED_RULES, "REDIS_MASTERUSER": "replication",
             "REDIS_AUTH_SERVICE_PASSWORD": random_password(), "REDIS_RESOURCE_SERVICE_PASSWORD": random_password(),
             "REDIS_REPLICATION_PASSWORD": random_password(), "REDIS_ADMIN_PASSWORD": ADMIN}


def services(auth, resource):
    return {"REDIS_AUTH_SERVICE_PASSWORD": auth, "REDIS_RESOURCE_SERVICE_PASSWORD": resource}


REFUSALS = {
    "a password that reads as ACL rules": ("REDIS_AUTH_SERVICE_PASSWORD", services("pw +@all ~* on >x", GOOD)),
    "an empty password": ("REDIS_AUTH_SERVICE_PASSWORD", services("", GOOD)),
    "an unset password": ("REDIS_RESOURCE_SERVICE_PASSWORD", services(GOOD, "")),
    "a 31-character password": ("REDIS_RESOURCE_SERVICE_PASSWORD", services(GOOD, GOOD[:31])),
    "the placeholder of .env.example": ("REDIS_AUTH_SERVICE_PASSWORD",
                                        services("replace-me-with-openssl-rand-hex-32", GOOD)),
    "a REDIS_MASTERUSER no rules file defines": ("REDIS_MASTERUSER", {**DATA_NODE, "REDIS_MASTERUSER": "replica"}),
    "the replicated topologies without REDIS_ADMIN_PASSWORD": ("REDIS_ADMIN_PASSWORD",
                                                               {**DATA_NODE, "REDIS_ADMIN_PASSWORD": ""}),
    "a replication password with a line break": ("REDIS_REPLICATION_PASSWORD",
                                                 {**DATA_NODE, "REDIS_REPLICATION_PASSWORD": random_password() + "\nmasterauth x"}),
    "a sentinel without REDIS_SENTINEL_CLIENT_PASSWORD": (
        "REDIS_SENTINEL_CLIENT_PASSWORD",
        {"ACL_RULES": SENTINEL_RULES, "SENTINEL_CONFIG": os.path.join(ROOT, "deploy/redis/sentinel.conf"),
         "REDIS_MASTERUSER": "replication", "REDIS_REPLICATION_PASSWORD": random_password(),
         "REDIS_ADMIN_PASSWORD": ADMIN}),
}


@pytest.mark.parametrize("what", list(REFUSALS))
def test_start_sh_refuses_a_bad_password_naming_the_variable_and_printing_none(what, tmp_path):
    """start.sh exits non-zero at once, names the variable, prints no *_PASSWORD value
    and leaves no ACL or config file and no server behind."""
    variable, variables = REFUSALS[what]
    RedisServers(tmp_path)  # fails when redis-server or redis-cli is missing
    refused = tmp_path / "refused"
    refused.mkdir()
    port = free_port()
    env = start_env(variables)
    env["ACL_FILE"] = str(refused / "users.acl")
    result = subprocess.run(["timeout", "10", "sh", START_SH, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--dir", str(tmp_path)], env=env, capture_output=True, text=True, cwd=ROOT)
    out = result.stdout + result.stderr
    assert result.returncode not in (0, 124), f"{START_SH} accepted {what} (exit {result.returncode})"
    assert variable in out, f"{START_SH} refused {what} without naming {variable}: {out}"
    printed = [k for k, v in variables.items() if k.endswith("_PASSWORD") and len(v) >= 8 and v in out]
    assert not printed, f"{START_SH} printed a password ({', '.join(printed)}) when refusing {what}"
    assert not os.listdir(refused) and not port_open(port), \
        f"{START_SH} left a file or a server behind when refusing {what}"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    servers = RedisServers(tmp_path_factory.mktemp("redis-acl"))
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def normal(servers):
    """A standalone server of acl-rules.txt with normal passwords: (port, auth pw, resource pw)."""
    auth, resource, port = random_password(), random_password(), free_port()
    servers.start("redis-normal", port, services(auth, resource), "--save", "", "--appendonly", "no")
    return port, auth, resource


TRICKY = random_password() + " +@all ~* &* allkeys allcommands nopass on >x"


@pytest.fixture(scope="module")
def tricky(servers):
    """A server whose auth-service password is full of rule syntax: (port, dir, resource pw)."""
    resource, port = random_password(), free_port()
    servers.start("redis-tricky", port, services(TRICKY, resource), "--save", "", "--appendonly", "no")
    return port, os.path.join(servers.directory, "redis-tricky"), resource


@pytest.mark.parametrize("user", ["auth-service", "resource-service"])
def test_service_users_log_in_with_their_passwords(normal, user):
    """Each service user gets PONG with its own password."""
    port, auth, resource = normal
    expect(f"{user} PING", redis_cli(port, "PING", user=user, password=auth if user == "auth-service" else resource),
           "^PONG$")


def test_a_user_cannot_log_in_with_another_users_password(normal):
    """auth-service with the resource-service's password: WRONGPASS."""
    port, _, resource = normal
    expect("auth-service with the resource-service's password",
           redis_cli(port, "PING", user="auth-service", password=resource), "WRONGPASS")


def test_the_default_user_is_off(normal):
    """Without a user, nothing gets in: NOAUTH."""
    expect("the default user", redis_cli(normal[0], "GET", "session:x"), "NOAUTH")


def test_resource_service_cannot_write_sessions(normal):
    """resource-service SET session:x: NOPERM (its key pattern is read-only)."""
    port, _, resource = normal
    expect("resource-service SET", redis_cli(port, "SET", "session:x", "y", user="resource-service", password=resource),
           "NOPERM")


def test_auth_service_writes_sessions(normal):
    """auth-service SET session:x: OK."""
    port, auth, _ = normal
    expect("auth-service SET", redis_cli(port, "SET", "session:x", "y", user="auth-service", password=auth), "^OK$")


def test_a_password_with_rule_syntax_is_only_a_password(tricky):
    """The rule-like password logs in; 'x' (the >x it contains) and any other password
    (its nopass) do not."""
    port, _, _ = tricky
    expect("auth-service with the rule-like password", redis_cli(port, "PING", user="auth-service", password=TRICKY),
           "^PONG$")
    expect("auth-service with the password 'x'", redis_cli(port, "PING", user="auth-service", password="x"), "WRONGPASS")
    expect("auth-service with another password (nopass)",
           redis_cli(port, "PING", user="auth-service", password=random_password()), "WRONGPASS")


@pytest.mark.parametrize("what, command", [
    ("outside session:* (~*, allkeys)", ["GET", "not-a-session"]),
    ("FLUSHALL (+@all, allcommands)", ["FLUSHALL"]),
    ("PUBLISH outside session:* (&*)", ["PUBLISH", "other", "x"]),
])
def test_a_password_with_rule_syntax_grants_no_rule(tricky, what, command):
    """The rules the password spells (~*, +@all, &*, ...) are not the user's: NOPERM."""
    expect(f"auth-service {what}", redis_cli(tricky[0], *command, user="auth-service", password=TRICKY), "NOPERM")


def test_acl_file_holds_the_password_hash_and_the_rules_file_rules(tricky):
    """The ACL file's auth-service line is 'user auth-service on #<sha256> <rules of acl-rules.txt>'."""
    _, directory, _ = tricky
    rules = [line.split(" ", 1)[1].rstrip("\n") for line in open(RULES) if line.startswith("auth-service ")]
    line = f"user auth-service on #{hashlib.sha256(TRICKY.encode()).hexdigest()} {rules[0]}"
    acl = open(os.path.join(directory, "users.acl")).read().splitlines()
    assert line in acl, ("the ACL file's auth-service line is not its hash and its rules:\n"
                         + "\n".join(a for a in acl if a.startswith("user auth-service ")))


def test_acl_file_holds_no_password_in_clear(tricky):
    """Neither password appears in the ACL file."""
    _, directory, resource = tricky
    acl = open(os.path.join(directory, "users.acl")).read()
    assert TRICKY not in acl and resource not in acl, f"{START_SH} wrote a password in clear into the ACL file"


def tricky_users(tricky):
    port, _, resource = tricky
    return {"auth-service": (port, TRICKY), "resource-service": (port, resource)}


@pytest.mark.parametrize("user", ["auth-service", "resource-service"])
def test_service_users_may_run_role(tricky, user):
    """ROLE (a Sentinel client checks it reached the master): master."""
    port, password = tricky_users(tricky)[user]
    expect(f"{user} ROLE", redis_cli(port, "ROLE", user=user, password=password), "^master$")


@pytest.mark.parametrize("user", ["auth-service", "resource-service"])
@pytest.mark.parametrize("subcommand", ["SLOTS", "SHARDS"])
def test_service_users_may_read_the_cluster_slot_map(tricky, user, subcommand):
    """CLUSTER SLOTS / SHARDS get through the ACL (this server has no cluster support,
    and Redis says so only to a command the ACL let through)."""
    port, password = tricky_users(tricky)[user]
    expect(f"{user} CLUSTER {subcommand}", redis_cli(port, "CLUSTER", subcommand, user=user, password=password),
           "cluster support disabled")


@pytest.mark.parametrize("user", ["auth-service", "resource-service"])
@pytest.mark.parametrize("command", [["CLUSTER", "NODES"], ["READONLY"]], ids=["CLUSTER NODES", "READONLY"])
def test_service_users_may_not_run_cluster_nodes_or_readonly(tricky, user, command):
    """CLUSTER NODES and READONLY: NOPERM."""
    port, password = tricky_users(tricky)[user]
    expect(f"{user} {' '.join(command)}", redis_cli(port, *command, user=user, password=password), "NOPERM")


def test_auth_service_may_wait_for_replicas(tricky):
    """auth-service WAIT 0 0: 0 (redis.wait_replicas)."""
    expect("auth-service WAIT", redis_cli(tricky[0], "WAIT", 0, 0, user="auth-service", password=TRICKY), "^0$")


def test_resource_service_may_not_wait(tricky):
    """resource-service WAIT: NOPERM."""
    port, _, resource = tricky
    expect("resource-service WAIT", redis_cli(port, "WAIT", 0, 0, user="resource-service", password=resource), "NOPERM")
