"""The topologies of deploy/compose, read from compose's merged view of each
(docker-compose.yml plus the override, every variable a value of its own): they agree
with deploy/redis, deploy/mongo and the services' settings.

Each test walks every topology that has the part it checks (a Redis Cluster, Sentinel,
a MongoDB replica set) and names the file and service of each problem."""

import os
from urllib.parse import parse_qs, urlsplit

from compose_files import command_arg, mounted, password_var, users_in, waits_for
from tools import ROOT, assert_no_problems


def with_cluster(topologies):
    return [t for t in topologies if t.cluster]


def with_sentinels(topologies):
    return [t for t in topologies if t.sentinels]


def with_mongo_replica_set(topologies):
    return [t for t in topologies if t.mongo_members]


# --- every Redis server (data node or sentinel) -----------------------------------------

def test_every_topology_is_a_cluster_a_sentinel_setup_or_a_mongo_replica_set(topologies):
    """Each deploy/compose file is a Redis Cluster, Redis with Sentinel or a MongoDB replica set."""
    assert_no_problems([f"{t.path}: neither a Redis Cluster, Redis with Sentinel nor a MongoDB replica set"
                        for t in topologies if not (t.cluster or t.sentinels or t.mongo_members)])


def test_redis_servers_publish_no_port_to_the_host(topologies):
    """No service that runs deploy/redis/start.sh publishes a port."""
    assert_no_problems([f"{t.where(n)} publishes a port to the host"
                        for t in topologies for n in t.redis_servers if t.services[n].get("ports")])


def test_redis_servers_mount_deploy_redis_start_sh(topologies):
    """/etc/redis/start.sh, which they run, is deploy/redis/start.sh."""
    problems = []
    for t in topologies:
        for n in t.redis_servers:
            start = mounted(t.services[n], "/etc/redis/start.sh")
            if start != "deploy/redis/start.sh":
                problems.append(f"{t.where(n)} runs /etc/redis/start.sh but mounts {start} there")
    assert_no_problems(problems)


def test_redis_acl_rules_files_are_mounted(topologies):
    """Every file a node's ACL_RULES names is a file mounted into it."""
    assert_no_problems([f"{t.where(n)}: ACL_RULES names {target}, which is not a mounted file"
                        for t in topologies for n in t.redis_servers
                        for target, src in t.acl_rule_files(n)
                        if src is None or not os.path.isfile(os.path.join(ROOT, src))])


def test_every_redis_acl_user_has_a_password(topologies):
    """Each ACL user of a node has its REDIS_<USER>_PASSWORD (start.sh refuses to start without)."""
    assert_no_problems([f"{t.where(n)}: user {u} has no {password_var(u)} (start.sh refuses to start)"
                        for t in topologies for n in t.redis_servers for u in t.users(n)
                        if not t.env[n].get(password_var(u))])


def test_redis_masteruser_is_a_user_of_the_node(topologies):
    """REDIS_MASTERUSER, when set, is one of the node's ACL users."""
    assert_no_problems([f"{t.where(n)}: REDIS_MASTERUSER={t.env[n]['REDIS_MASTERUSER']} is none of its users {t.users(n)}"
                        for t in topologies for n in t.redis_servers
                        if "REDIS_MASTERUSER" in t.env[n] and t.env[n]["REDIS_MASTERUSER"] not in t.users(n)])


def test_redis_servers_announce_their_service_name(topologies):
    """SENTINEL_ANNOUNCE_HOSTNAME, --cluster-announce-hostname and --replica-announce-ip
    name the service itself."""
    problems = []
    for t in topologies:
        for n in t.sentinels:
            if t.env[n].get("SENTINEL_ANNOUNCE_HOSTNAME") != n:
                problems.append(f"{t.where(n)}: SENTINEL_ANNOUNCE_HOSTNAME is not its service name")
        for n in t.redis_nodes:
            for flag in ("--cluster-announce-hostname", "--replica-announce-ip"):
                value = command_arg(t.services[n], flag)
                if value is not None and value != n:
                    problems.append(f"{t.where(n)}: {flag} {value} is not its service name")
    assert_no_problems(problems)


# --- Redis Cluster ------------------------------------------------------------------------

def test_cluster_has_six_nodes(topologies):
    """3 masters with a replica each: at least 6 nodes include /etc/redis/cluster.conf."""
    assert_no_problems([f"{t.path}: {len(t.cluster)} cluster nodes; 3 masters with a replica each need 6"
                        for t in with_cluster(topologies) if len(t.cluster) < 6])


def test_cluster_nodes_mount_cluster_conf_announce_and_replicate_as_replication(topologies):
    """Each node mounts deploy/redis/cluster.conf, announces its name and logs in to its
    master as the replication user."""
    problems = []
    for t in with_cluster(topologies):
        for n in t.cluster:
            if mounted(t.services[n], "/etc/redis/cluster.conf") != "deploy/redis/cluster.conf":
                problems.append(f"{t.where(n)} includes /etc/redis/cluster.conf without mounting deploy/redis/cluster.conf")
            if command_arg(t.services[n], "--cluster-announce-hostname") != n:
                problems.append(f"{t.where(n)} announces no hostname (--cluster-announce-hostname {n})")
            if t.env[n].get("REDIS_MASTERUSER") != "replication":
                problems.append(f"{t.where(n)}: REDIS_MASTERUSER is not replication (a replica must log in to its master)")
    assert_no_problems(problems)


def test_one_service_runs_cluster_init_over_every_healthy_node(topologies):
    """Exactly one service runs cluster-init.sh, lists every node on 6379, uses the nodes'
    admin password and waits for them to be healthy."""
    problems = []
    for t in with_cluster(topologies):
        if len(t.cluster_inits) != 1:
            problems.append(f"{t.path}: {len(t.cluster_inits)} services run cluster-init.sh, expected 1")
        for n in t.cluster_inits:
            listed = set(t.env[n].get("REDIS_CLUSTER_NODES", "").replace(",", " ").split())
            if listed != {f"{c}:6379" for c in t.cluster}:
                problems.append(f"{t.where(n)}: REDIS_CLUSTER_NODES {sorted(listed)} are not the cluster nodes {t.cluster}")
            if t.env[n].get("REDIS_ADMIN_PASSWORD") != t.env[t.cluster[0]].get("REDIS_ADMIN_PASSWORD"):
                problems.append(f"{t.where(n)}: REDIS_ADMIN_PASSWORD is not the nodes' admin password")
            problems += waits_for(t.where(n), t.services[n], t.cluster, "service_healthy")
    assert_no_problems(problems)


def test_services_use_the_cluster_with_their_own_credentials(topologies):
    """Both services: APP__REDIS__MODE=cluster, APP__REDIS__NODES names every node on
    6379 as the service's ACL user with its password, and they wait for cluster-init."""
    problems = []
    for t in with_cluster(topologies):
        for app, e in t.apps.items():
            where = t.where(app)
            if t.mode(app) != "cluster":
                problems.append(f"{where}: APP__REDIS__MODE is {t.mode(app)}, not cluster")
            seeds = [urlsplit(u.strip()) for u in e.get("APP__REDIS__NODES", "").split(",") if u.strip()]
            if {(u.hostname, u.port) for u in seeds} != {(c, 6379) for c in t.cluster}:
                problems.append(f"{where}: APP__REDIS__NODES does not name every cluster node on 6379")
            if any(u.scheme not in ("redis", "rediss") or u.username != app or u.password != t.app_password(app)
                   for u in seeds):
                problems.append(f"{where}: every APP__REDIS__NODES URL must log in as {app} with {password_var(app)}")
            problems += waits_for(where, t.services[app], t.cluster_inits, "service_completed_successfully")
    assert_no_problems(problems)


# --- Redis with Sentinel ------------------------------------------------------------------

def test_sentinel_config_has_port_and_monitor_lines(topologies):
    """The sentinels' config file (SENTINEL_CONFIG, mounted) has 'port' and 'sentinel monitor'."""
    assert_no_problems([f"{t.path}: the sentinels' config {cfg[0]} has no 'port' or 'sentinel monitor' line"
                        for t in with_sentinels(topologies) if (cfg := t.sentinel_config())[1] is None])


def test_sentinels_are_three_or_more_with_a_majority_quorum(topologies):
    """At least 3 sentinels, and a quorum that is a majority of them."""
    problems = []
    for t in with_sentinels(topologies):
        _, master, _, quorum, _ = t.sentinel_config()
        if master and (len(t.sentinels) < 3 or not len(t.sentinels) // 2 < quorum <= len(t.sentinels)):
            problems.append(f"{t.path}: {len(t.sentinels)} sentinels with quorum {quorum}; want at least 3 and a majority")
    assert_no_problems(problems)


def test_sentinels_watch_a_master_that_has_a_replica(topologies):
    """The monitored host is a Redis service of the file, and another is its replica."""
    problems = []
    for t in with_sentinels(topologies):
        _, master, host, _, _ = t.sentinel_config()
        if master is None:
            continue
        if host not in t.redis_nodes:
            problems.append(f"{t.path}: the sentinels watch {host}, which is no Redis service of this file")
        if not [n for n in t.redis_nodes if command_arg(t.services[n], "--replicaof") == host]:
            problems.append(f"{t.path}: no Redis service is a replica of {host} (--replicaof {host} 6379)")
    assert_no_problems(problems)


def test_sentinel_topology_nodes_log_in_as_replication_and_announce_their_names(topologies):
    """Sentinels, master and replicas log in as replication with the data nodes' password;
    the data nodes announce their service names to the sentinels."""
    problems = []
    for t in with_sentinels(topologies):
        _, master, host, _, _ = t.sentinel_config()
        if master is None:
            continue
        data = [host] + [n for n in t.redis_nodes if command_arg(t.services[n], "--replicaof") == host]
        for n in t.sentinels + data:
            if t.env[n].get("REDIS_MASTERUSER") != "replication" or \
                    t.env[n].get("REDIS_REPLICATION_PASSWORD") != t.env.get(host, {}).get("REDIS_REPLICATION_PASSWORD"):
                problems.append(f"{t.where(n)}: must log in as replication with the data nodes' REDIS_REPLICATION_PASSWORD")
            if n in data and command_arg(t.services.get(n, {}), "--replica-announce-ip") != n:
                problems.append(f"{t.where(n)}: announces no name to the sentinels (--replica-announce-ip {n})")
    assert_no_problems(problems)


def test_services_use_the_sentinels_with_their_own_credentials(topologies):
    """Both services: APP__REDIS__MODE=sentinel, every sentinel on its port, the master
    name the sentinels watch, a sentinel user and its password, the master's URL as
    their own ACL user, and they wait for the sentinels to be healthy."""
    problems = []
    for t in with_sentinels(topologies):
        _, master, _, _, port = t.sentinel_config()
        if master is None:
            continue
        first = t.sentinels[0]
        sentinel_users = users_in(mounted(t.services[first], t.env[first]["ACL_RULES"].split(":")[0]))
        for app, e in t.apps.items():
            where = t.where(app)
            if t.mode(app) != "sentinel":
                problems.append(f"{where}: APP__REDIS__MODE is {t.mode(app)}, not sentinel")
            addrs = [urlsplit(u.strip()) for u in e.get("APP__REDIS__SENTINELS", "").split(",") if u.strip()]
            if {(u.hostname, u.port) for u in addrs} != {(s, port) for s in t.sentinels}:
                problems.append(f"{where}: APP__REDIS__SENTINELS does not name every sentinel on port {port}")
            if e.get("APP__REDIS__MASTER_NAME") != master:
                problems.append(f"{where}: APP__REDIS__MASTER_NAME is not {master}, the name the sentinels watch")
            user = e.get("APP__REDIS__SENTINEL_USERNAME")
            if user not in sentinel_users or e.get("APP__REDIS__SENTINEL_PASSWORD") != t.env[first].get(password_var(user)):
                problems.append(f"{where}: APP__REDIS__SENTINEL_USERNAME/PASSWORD are not a sentinel user and its password")
            url = urlsplit(e.get("APP__REDIS__URL", ""))
            if url.username != app or url.password != t.app_password(app):
                problems.append(f"{where}: APP__REDIS__URL (the master's credentials) must log in as {app}")
            problems += waits_for(where, t.services[app], t.sentinels, "service_healthy")
    assert_no_problems(problems)


# --- MongoDB replica set ------------------------------------------------------------------

def test_mongo_replica_set_has_three_members_with_one_name_and_key(topologies):
    """3 or more members, one MONGO_REPLICA_SET and one MONGO_REPLICA_SET_KEY."""
    problems = []
    for t in with_mongo_replica_set(topologies):
        names = {t.env[n].get("MONGO_REPLICA_SET") for n in t.mongo_members}
        keys = {t.env[n].get("MONGO_REPLICA_SET_KEY") for n in t.mongo_members}
        if len(t.mongo_members) < 3 or len(names) != 1 or len(keys) != 1 or None in keys:
            problems.append(f"{t.path}: members {t.mongo_members} must be 3 or more with one MONGO_REPLICA_SET "
                            "and one MONGO_REPLICA_SET_KEY")
    assert_no_problems(problems)


def test_mongo_members_mount_their_script_and_publish_no_port(topologies):
    """Each member mounts deploy/mongo/replica-set-member.sh and publishes no port."""
    problems = []
    for t in with_mongo_replica_set(topologies):
        for n in t.mongo_members:
            if mounted(t.services[n], "/etc/mongo/replica-set-member.sh") != "deploy/mongo/replica-set-member.sh":
                problems.append(f"{t.where(n)} does not mount deploy/mongo/replica-set-member.sh")
            if t.services[n].get("ports"):
                problems.append(f"{t.where(n)} publishes a port to the host")
    assert_no_problems(problems)


def test_only_the_first_mongo_member_creates_the_users(topologies):
    """Only mongo has MONGO_INITDB_ROOT_USERNAME and runs create-auth-service-user.js."""
    problems = []
    for t in with_mongo_replica_set(topologies):
        for n in t.mongo_members:
            if ("MONGO_INITDB_ROOT_USERNAME" in t.env[n]) != (n == "mongo"):
                problems.append(f"{t.where(n)}: only the first member (mongo) may create the users; the others copy them")
        user_js = mounted(t.services["mongo"], "/docker-entrypoint-initdb.d/create-auth-service-user.js")
        if user_js != "deploy/mongo/create-auth-service-user.js":
            problems.append(f"{t.path}: mongo does not run deploy/mongo/create-auth-service-user.js on its first start")
    assert_no_problems(problems)


def test_one_service_initiates_the_replica_set_over_every_healthy_member(topologies):
    """Exactly one service runs init-replica-set.js: every member listed (mongo first),
    the set's name, mongo's root password, and it waits for the members to be healthy."""
    problems = []
    for t in with_mongo_replica_set(topologies):
        name = t.env[t.mongo_members[0]].get("MONGO_REPLICA_SET")
        if len(t.mongo_inits) != 1:
            problems.append(f"{t.path}: {len(t.mongo_inits)} services run init-replica-set.js, expected 1")
        for n in t.mongo_inits:
            listed = [m.strip() for m in t.env[n].get("MONGO_REPLICA_SET_MEMBERS", "").split(",")]
            if set(listed) != {f"{m}:27017" for m in t.mongo_members} or listed[0] != "mongo:27017":
                problems.append(f"{t.where(n)}: MONGO_REPLICA_SET_MEMBERS {listed} are not the members, mongo first")
            if t.env[n].get("MONGO_REPLICA_SET") != name:
                problems.append(f"{t.where(n)}: MONGO_REPLICA_SET is not {name}")
            if t.env[n].get("MONGO_ROOT_PASSWORD") != t.env["mongo"].get("MONGO_INITDB_ROOT_PASSWORD"):
                problems.append(f"{t.where(n)}: logs in with another password than mongo's root user")
            problems += waits_for(t.where(n), t.services[n], t.mongo_members, "service_healthy")
    assert_no_problems(problems)


def test_auth_service_uses_the_replica_set_with_majority_writes(topologies):
    """APP__MONGODB__URI: auth-service@every member, replicaSet, w=majority, retryWrites,
    readConcernLevel=majority, authSource; the auth-service waits for the initiation."""
    problems = []
    for t in with_mongo_replica_set(topologies):
        name = t.env[t.mongo_members[0]].get("MONGO_REPLICA_SET")
        parts = urlsplit(t.env["auth-service"].get("APP__MONGODB__URI", ""))
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        hosts = set(parts.netloc.rsplit("@", 1)[-1].split(","))
        want = {"replicaSet": name, "w": "majority", "retryWrites": "true", "readConcernLevel": "majority",
                "authSource": t.env["mongo"].get("MONGO_INITDB_DATABASE")}
        if hosts != {f"{m}:27017" for m in t.mongo_members} or any(query.get(k) != v for k, v in want.items()) \
                or parts.username != "auth-service":
            problems.append(f"{t.path}: the auth-service's APP__MONGODB__URI must be auth-service@every member with {want}")
        problems += waits_for(t.where("auth-service"), t.services["auth-service"], t.mongo_inits,
                              "service_completed_successfully")
    assert_no_problems(problems)


def test_env_example_shows_a_replica_set_mongodb_uri(topologies):
    """.env.example has an APP__MONGODB__URI with replicaSet, w, retryWrites and readConcernLevel
    (checked when a topology runs a MongoDB replica set)."""
    if not with_mongo_replica_set(topologies):
        return
    example = [line for line in open(os.path.join(ROOT, ".env.example"))
               if "APP__MONGODB__URI=" in line and "replicaSet=" in line]
    assert example and all(f"{k}=" in example[0] for k in ("replicaSet", "w", "retryWrites", "readConcernLevel")), \
        ".env.example shows no replica-set APP__MONGODB__URI with replicaSet, w, retryWrites and readConcernLevel"
