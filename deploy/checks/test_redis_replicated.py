"""The replicated topologies on real redis-servers, all with the ACL users of
deploy/redis and no ACL denial: a 6-node Cluster made by deploy/redis/cluster-init.sh,
and a master, a replica and 3 sentinels that fail over."""

import os
import re
import signal
import subprocess
import time

import pytest

from redis_servers import (REPLICATED_RULES, SENTINEL_RULES, RedisServers, expect, free_port, random_password,
                           redis_cli, wait_for)
from tools import ROOT

AUTH, RESOURCE, ADMIN, SENTINEL_CLIENT = (random_password() for _ in range(4))
# Rule syntax, double quotes and a backslash: start.sh has to quote it in the config
# file (masterauth, sentinel auth-pass) or no replica would ever sync.
REPLICATION = random_password() + ' "quoted" back\\slash +@all nopass'
DATA_NODE = {"ACL_RULES": REPLICATED_RULES, "REDIS_MASTERUSER": "replication",
             "REDIS_AUTH_SERVICE_PASSWORD": AUTH, "REDIS_RESOURCE_SERVICE_PASSWORD": RESOURCE,
             "REDIS_REPLICATION_PASSWORD": REPLICATION, "REDIS_ADMIN_PASSWORD": ADMIN}
NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


def admin(port, *command):
    """A command as the admin user of the replicated topologies."""
    return redis_cli(port, *command, user="admin", password=ADMIN)


def acl_denials(ports):
    """Problems: each server whose ACL LOG is not empty."""
    return [f"Redis on port {port} denied a command by ACL:\n{log}"
            for port in ports if (log := admin(port, "ACL", "LOG").strip())]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    servers = RedisServers(tmp_path_factory.mktemp("redis-replicated"))
    yield servers
    servers.stop()


# --- Redis Cluster ------------------------------------------------------------------------

def cluster_init(nodes, **extra):
    env = {**os.environ, "REDIS_ADMIN_PASSWORD": ADMIN, "REDIS_CLUSTER_NODES": " ".join(nodes), **extra}
    return subprocess.run(["sh", "deploy/redis/cluster-init.sh"], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.fixture(scope="module")
def cluster(servers):
    """Six nodes as compose runs them (start.sh with both rules files and
    deploy/redis/cluster.conf), made one cluster by cluster-init.sh: their ports."""
    ports = []
    for i in range(1, 7):
        port = free_port()
        servers.start(f"cluster-{i}", port, DATA_NODE, *NO_PERSISTENCE,
                      "--include", os.path.join(ROOT, "deploy/redis/cluster.conf"),
                      "--cluster-port", free_port(), "--cluster-announce-hostname", "localhost")
        ports.append(port)
    started = time.monotonic()
    result = cluster_init([f"127.0.0.1:{p}" for p in ports], CLUSTER_WAIT_SECONDS="30")
    assert result.returncode == 0, \
        "deploy/redis/cluster-init.sh did not make the six nodes a cluster:\n" + (result.stdout + result.stderr)[-2000:]
    print(f"cluster made in {time.monotonic() - started:.0f} s")
    wait_for_replicas_in_sync(ports)
    return ports


def wait_for_replicas_in_sync(ports):
    def synced():
        infos = [admin(p, "INFO", "replication").replace("\r", "") for p in ports]
        return sum("role:master" in i for i in infos) == 3 and sum("master_link_status:up" in i for i in infos) == 3
    wait_for(20, "3 masters and 3 replicas in sync (the replicas log in as replication)", synced)


def write_and_read_every_slot_range(ports):
    """auth-service writes and resource-service reads a key on each master (redis-cli -c)."""
    for key in "abcdef":
        expect(f"auth-service SET session:{key}, following redirects",
               redis_cli(ports[0], "-c", "SET", f"session:{key}", key, user="auth-service", password=AUTH), "^OK$")
        expect(f"resource-service GET session:{key}, following redirects",
               redis_cli(ports[0], "-c", "GET", f"session:{key}", user="resource-service", password=RESOURCE),
               f"^{key}$")


def test_cluster_init_makes_three_masters_with_replicas_in_sync(cluster):
    """3 masters and 3 replicas whose link is up (the replicas log in as replication)."""
    wait_for_replicas_in_sync(cluster)


@pytest.mark.parametrize("user, password, subcommand",
                         [("auth-service", AUTH, "SLOTS"), ("resource-service", RESOURCE, "SHARDS")])
def test_service_users_read_the_slot_map_with_the_announced_hostname(cluster, user, password, subcommand):
    """CLUSTER SLOTS / SHARDS name the nodes by their announced hostname."""
    expect(f"{user} CLUSTER {subcommand}", redis_cli(cluster[0], "CLUSTER", subcommand, user=user, password=password),
           "^localhost$")


def test_service_users_follow_cluster_redirects(cluster):
    """auth-service writes and resource-service reads keys of every slot range (redis-cli -c)."""
    write_and_read_every_slot_range(cluster)


def test_cluster_denies_nothing_by_acl(cluster):
    """ACL LOG is empty on every node after cluster-init, replication and the clients'
    traffic (pytest runs this file in order: this comes before the next test makes a
    denial on purpose)."""
    write_and_read_every_slot_range(cluster)
    problems = acl_denials(cluster)
    assert not problems, "the cluster:\n" + "\n".join(problems)


def test_resource_service_cannot_write_in_the_cluster(cluster):
    """resource-service SET in the cluster: NOPERM."""
    expect("resource-service SET in the cluster",
           redis_cli(cluster[0], "-c", "SET", "session:a", "x", user="resource-service", password=RESOURCE), "NOPERM")


def test_cluster_init_run_again_changes_nothing(cluster):
    """A second cluster-init.sh says the cluster exists and creates nothing."""
    result = cluster_init([f"127.0.0.1:{p}" for p in cluster])
    expect("deploy/redis/cluster-init.sh run again", result.stdout + result.stderr, "the cluster exists, nothing to create")


# --- Sentinel -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sentinel(servers, tmp_path_factory):
    """A master and a replica (start.sh, both rules files) and three sentinels (start.sh
    with deploy/redis/sentinel.conf, watching the master here instead of the compose
    service redis): a dict of ports, processes and the master's name."""
    master_port, replica_port = free_port(), free_port()
    master = servers.start("sentinel-master", master_port, DATA_NODE, *NO_PERSISTENCE,
                           "--replica-announce-ip", "127.0.0.1")
    servers.start("sentinel-replica", replica_port, DATA_NODE, *NO_PERSISTENCE,
                  "--replica-announce-ip", "127.0.0.1", "--replicaof", "127.0.0.1", master_port)
    conf = open(os.path.join(ROOT, "deploy/redis/sentinel.conf")).read()
    name = re.search(r"^sentinel monitor (\S+)", conf, re.M).group(1)
    conf = re.sub(r"^(sentinel monitor \S+) \S+ [0-9]+ ", rf"\g<1> 127.0.0.1 {master_port} ", conf, flags=re.M)
    assert f"\nsentinel monitor {name} 127.0.0.1 {master_port} " in "\n" + conf, \
        "deploy/redis/sentinel.conf has no 'sentinel monitor NAME HOST PORT QUORUM' line to point here"
    path = tmp_path_factory.mktemp("sentinel") / "sentinel.conf"
    path.write_text(conf)
    sentinels = []
    for i in range(1, 4):
        port = free_port()
        servers.start(f"sentinel-{i}", port, {
            "ACL_RULES": SENTINEL_RULES, "SENTINEL_CONFIG": str(path), "SENTINEL_ANNOUNCE_HOSTNAME": "127.0.0.1",
            "REDIS_MASTERUSER": "replication", "REDIS_REPLICATION_PASSWORD": REPLICATION,
            "REDIS_SENTINEL_CLIENT_PASSWORD": SENTINEL_CLIENT, "REDIS_ADMIN_PASSWORD": ADMIN})
        sentinels.append(port)
    return {"master": master_port, "replica": replica_port, "sentinels": sentinels, "name": name, "master_process": master}


def ask_master(sentinel):
    """The port sentinel-client is told the master is on."""
    answer = redis_cli(sentinel["sentinels"][0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", sentinel["name"],
                       user="sentinel-client", password=SENTINEL_CLIENT)
    return answer.strip().splitlines()[-1] if answer.strip() else ""


def wait_until_sentinels_see_all(sentinel):
    def all_see():
        for port in sentinel["sentinels"]:
            info = " ".join(admin(port, "SENTINEL", "MASTER", sentinel["name"]).replace("\r", "").split("\n"))
            if "num-slaves 1 " not in info or "num-other-sentinels 2 " not in info:
                return False
        return True
    wait_for(20, "each sentinel sees the replica and the two other sentinels", all_see)


def test_each_sentinel_sees_the_replica_and_the_other_sentinels(sentinel):
    """SENTINEL MASTER: num-slaves 1 and num-other-sentinels 2 on each sentinel."""
    wait_until_sentinels_see_all(sentinel)


def test_sentinel_client_finds_the_master(sentinel):
    """sentinel-client SENTINEL GET-MASTER-ADDR-BY-NAME: the master's port."""
    expect("sentinel-client GET-MASTER-ADDR-BY-NAME", ask_master(sentinel), f"^{sentinel['master']}$")


def test_the_sentinels_default_user_is_off(sentinel):
    """PING without a user: NOAUTH."""
    expect("the sentinels' default user", redis_cli(sentinel["sentinels"][0], "PING"), "NOAUTH")


@pytest.fixture(scope="module")
def failed_over(sentinel):
    """The master stopped (SIGSTOP): the sentinels agree it is down (among themselves as
    replication), promote the replica, and turn the old master into a replica once it
    is back (REPLICAOF and CONFIG REWRITE as replication). Returns the failover's seconds."""
    wait_until_sentinels_see_all(sentinel)
    for port in sentinel["sentinels"]:
        # Faster than sentinel.conf's 5 s, for this check only.
        expect("admin SENTINEL SET", admin(port, "SENTINEL", "SET", sentinel["name"], "down-after-milliseconds", 1000),
               "^OK$")
    process = sentinel["master_process"]
    started = time.monotonic()
    process.send_signal(signal.SIGSTOP)
    try:
        wait_for(30, "the sentinels promote the replica of the stopped master",
                 lambda: ask_master(sentinel) == str(sentinel["replica"]))
    finally:
        process.send_signal(signal.SIGCONT)
    seconds = time.monotonic() - started
    wait_for(40, "the old master follows the new one once it is back",
             lambda: re.search(rf"master_port:{sentinel['replica']}.*master_link_status:up",
                               admin(sentinel["master"], "INFO", "replication").replace("\r", ""), re.S))
    return seconds


def test_sentinels_fail_over_a_stopped_master_and_it_comes_back_as_a_replica(failed_over):
    """The replica is promoted after SIGSTOP of the master, which then follows it."""
    print(f"failed over in {failed_over:.0f} s")


def test_sentinel_topology_denies_nothing_by_acl(sentinel, failed_over):
    """ACL LOG is empty on the data nodes and every sentinel after the failover."""
    problems = acl_denials([sentinel["master"], sentinel["replica"], *sentinel["sentinels"]])
    assert not problems, "the Sentinel topology:\n" + "\n".join(problems)


def test_sentinel_client_may_not_start_a_failover(sentinel, failed_over):
    """sentinel-client SENTINEL FAILOVER: NOPERM (it may find the master, nothing more)."""
    expect("sentinel-client SENTINEL FAILOVER",
           redis_cli(sentinel["sentinels"][0], "SENTINEL", "FAILOVER", sentinel["name"],
                     user="sentinel-client", password=SENTINEL_CLIENT), "NOPERM")
