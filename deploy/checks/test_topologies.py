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


def test_cluster_nodes_mount_deploy_redis_cluster_conf(topologies):
    """A node that includes /etc/redis/cluster.conf mounts deploy/redis/cluster.conf there."""
    assert_no_problems([f"{t.where(n)} includes /etc/redis/cluster.conf without mounting deploy/redis/cluster.conf"
                        for t in with_cluster(topologies) for n in t.cluster
                        if mounted(t.services[n], "/etc/redis/cluster.conf") != "deploy/redis/cluster.conf"])


def test_cluster_nodes_announce_their_hostname(topologies):
    """--cluster-announce-hostname <service name> on every node."""
    assert_no_problems([f"{t.where(n)} announces no hostname (--cluster-announce-hostname {n})"
                        for t in with_cluster(topologies) for n in t.cluster
                        if command_arg(t.services[n], "--cluster-announce-hostname") != n])


def test_cluster_nodes_replicate_as_the_replication_user(topologies):
    """REDIS_MASTERUSER=replication (a replica must log in to its master)."""
    assert_no_problems([f"{t.where(n)}: REDIS_MASTERUSER is not replication (a replica must log in to its master)"
                        for t in with_cluster(topologies) for n in t.cluster
                        if t.env[n].get("REDIS_MASTERUSER") != "replication"])


def test_exactly_one_service_runs_cluster_init(topologies):
    """One service, no more, runs /etc/redis/cluster-init.sh."""
    assert_no_problems([f"{t.path}: {len(t.cluster_inits)} services run cluster-init.sh, expected 1"
                        for t in with_cluster(topologies) if len(t.cluster_inits) != 1])


def cluster_inits(topologies):
    """(topology, service) of each service that runs cluster-init.sh."""
    return [(t, n) for t in with_cluster(topologies) for n in t.cluster_inits]


def test_cluster_init_lists_every_node(topologies):
    """REDIS_CLUSTER_NODES is every cluster node on 6379."""
    problems = []
    for t, n in cluster_inits(topologies):
        listed = set(t.env[n].get("REDIS_CLUSTER_NODES", "").replace(",", " ").split())
        if listed != {f"{c}:6379" for c in t.cluster}:
            problems.append(f"{t.where(n)}: REDIS_CLUSTER_NODES {sorted(listed)} are not the cluster nodes {t.cluster}")
    assert_no_problems(problems)


def test_cluster_init_uses_the_nodes_admin_password(topologies):
    """cluster-init's REDIS_ADMIN_PASSWORD is the nodes' one."""
    assert_no_problems([f"{t.where(n)}: REDIS_ADMIN_PASSWORD is not the nodes' admin password"
                        for t, n in cluster_inits(topologies)
                        if t.env[n].get("REDIS_ADMIN_PASSWORD") != t.env[t.cluster[0]].get("REDIS_ADMIN_PASSWORD")])


def test_cluster_init_waits_for_every_node_to_be_healthy(topologies):
    """depends_on every node with condition service_healthy."""
    assert_no_problems([p for t, n in cluster_inits(topologies)
                        for p in waits_for(t.where(n), t.services[n], t.cluster, "service_healthy")])


def cluster_apps(topologies):
    """(topology, app, its environment, where) of both services in each Cluster topology."""
    return [(t, app, e, t.where(app)) for t in with_cluster(topologies) for app, e in t.apps.items()]


def test_services_run_in_cluster_mode_in_the_cluster_topology(topologies):
    """APP__REDIS__MODE=cluster for both services."""
    assert_no_problems([f"{where}: APP__REDIS__MODE is {t.mode(app)}, not cluster"
                        for t, app, _, where in cluster_apps(topologies) if t.mode(app) != "cluster"])


def seeds(e):
    return [urlsplit(u.strip()) for u in e.get("APP__REDIS__NODES", "").split(",") if u.strip()]


def test_services_seed_from_every_cluster_node(topologies):
    """APP__REDIS__NODES names every cluster node on 6379."""
    assert_no_problems([f"{where}: APP__REDIS__NODES does not name every cluster node on 6379"
                        for t, app, e, where in cluster_apps(topologies)
                        if {(u.hostname, u.port) for u in seeds(e)} != {(c, 6379) for c in t.cluster}])


def test_services_log_in_to_the_cluster_as_their_own_user(topologies):
    """Every APP__REDIS__NODES URL is redis(s):// as the service's ACL user with its password."""
    assert_no_problems([f"{where}: every APP__REDIS__NODES URL must log in as {app} with {password_var(app)}"
                        for t, app, e, where in cluster_apps(topologies)
                        if any(u.scheme not in ("redis", "rediss") or u.username != app
                               or u.password != t.app_password(app) for u in seeds(e))])


def test_services_wait_for_cluster_init(topologies):
    """Both services wait for cluster-init to complete successfully."""
    assert_no_problems([p for t, app, _, where in cluster_apps(topologies)
                        for p in waits_for(where, t.services[app], t.cluster_inits, "service_completed_successfully")])


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


def sentinel_setups(topologies):
    """(topology, master name, watched host, sentinel port) of each Sentinel topology
    whose config could be read (test_sentinel_config_has_port_and_monitor_lines names
    the others)."""
    setups = []
    for t in with_sentinels(topologies):
        _, master, host, _, port = t.sentinel_config()
        if master is not None:
            setups.append((t, master, host, port))
    return setups


def replicas_of(t, host):
    return [n for n in t.redis_nodes if command_arg(t.services[n], "--replicaof") == host]


def test_sentinels_watch_a_redis_service_of_the_file(topologies):
    """The host in 'sentinel monitor' is a Redis service of the topology."""
    assert_no_problems([f"{t.path}: the sentinels watch {host}, which is no Redis service of this file"
                        for t, _, host, _ in sentinel_setups(topologies) if host not in t.redis_nodes])


def test_the_watched_master_has_a_replica(topologies):
    """Some Redis service runs --replicaof <master> 6379."""
    assert_no_problems([f"{t.path}: no Redis service is a replica of {host} (--replicaof {host} 6379)"
                        for t, _, host, _ in sentinel_setups(topologies) if not replicas_of(t, host)])


def test_sentinels_and_data_nodes_log_in_as_replication(topologies):
    """Sentinels, master and replicas: REDIS_MASTERUSER=replication with the data nodes'
    REDIS_REPLICATION_PASSWORD."""
    problems = []
    for t, _, host, _ in sentinel_setups(topologies):
        for n in t.sentinels + [host] + replicas_of(t, host):
            if t.env.get(n, {}).get("REDIS_MASTERUSER") != "replication" or \
                    t.env.get(n, {}).get("REDIS_REPLICATION_PASSWORD") != t.env.get(host, {}).get("REDIS_REPLICATION_PASSWORD"):
                problems.append(f"{t.where(n)}: must log in as replication with the data nodes' REDIS_REPLICATION_PASSWORD")
    assert_no_problems(problems)


def test_sentinel_data_nodes_announce_their_names(topologies):
    """Master and replicas run --replica-announce-ip <service name> (what the sentinels hand out)."""
    assert_no_problems([f"{t.where(n)}: announces no name to the sentinels (--replica-announce-ip {n})"
                        for t, _, host, _ in sentinel_setups(topologies) for n in [host] + replicas_of(t, host)
                        if command_arg(t.services.get(n, {}), "--replica-announce-ip") != n])


def sentinel_apps(topologies):
    """(topology, app, its environment, where, master name, sentinel port)."""
    return [(t, app, e, t.where(app), master, port)
            for t, master, _, port in sentinel_setups(topologies) for app, e in t.apps.items()]


def test_services_run_in_sentinel_mode_in_the_sentinel_topology(topologies):
    """APP__REDIS__MODE=sentinel for both services."""
    assert_no_problems([f"{where}: APP__REDIS__MODE is {t.mode(app)}, not sentinel"
                        for t, app, _, where, _, _ in sentinel_apps(topologies) if t.mode(app) != "sentinel"])


def test_services_ask_every_sentinel_on_its_port(topologies):
    """APP__REDIS__SENTINELS names every sentinel on the port of sentinel.conf."""
    problems = []
    for t, app, e, where, _, port in sentinel_apps(topologies):
        addrs = [urlsplit(u.strip()) for u in e.get("APP__REDIS__SENTINELS", "").split(",") if u.strip()]
        if {(u.hostname, u.port) for u in addrs} != {(s, port) for s in t.sentinels}:
            problems.append(f"{where}: APP__REDIS__SENTINELS does not name every sentinel on port {port}")
    assert_no_problems(problems)


def test_services_ask_for_the_master_name_the_sentinels_watch(topologies):
    """APP__REDIS__MASTER_NAME is the name in 'sentinel monitor'."""
    assert_no_problems([f"{where}: APP__REDIS__MASTER_NAME is not {master}, the name the sentinels watch"
                        for t, app, e, where, master, _ in sentinel_apps(topologies)
                        if e.get("APP__REDIS__MASTER_NAME") != master])


def test_services_log_in_to_the_sentinels_as_a_sentinel_user(topologies):
    """APP__REDIS__SENTINEL_USERNAME is a user of the sentinels' rules file, and
    APP__REDIS__SENTINEL_PASSWORD that user's password."""
    problems = []
    for t, app, e, where, _, _ in sentinel_apps(topologies):
        first = t.sentinels[0]
        users = users_in(mounted(t.services[first], t.env[first]["ACL_RULES"].split(":")[0]))
        user = e.get("APP__REDIS__SENTINEL_USERNAME")
        if user not in users or e.get("APP__REDIS__SENTINEL_PASSWORD") != t.env[first].get(password_var(user)):
            problems.append(f"{where}: APP__REDIS__SENTINEL_USERNAME/PASSWORD are not a sentinel user and its password")
    assert_no_problems(problems)


def test_services_log_in_to_the_master_as_their_own_user(topologies):
    """APP__REDIS__URL (the master's credentials) logs in as the service's ACL user."""
    problems = []
    for t, app, e, where, _, _ in sentinel_apps(topologies):
        url = urlsplit(e.get("APP__REDIS__URL", ""))
        if url.username != app or url.password != t.app_password(app):
            problems.append(f"{where}: APP__REDIS__URL (the master's credentials) must log in as {app}")
    assert_no_problems(problems)


def test_services_wait_for_the_sentinels_to_be_healthy(topologies):
    """Both services depend on every sentinel with condition service_healthy."""
    assert_no_problems([p for t, app, _, where, _, _ in sentinel_apps(topologies)
                        for p in waits_for(where, t.services[app], t.sentinels, "service_healthy")])


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


def mongo_members(topologies):
    return [(t, n) for t in with_mongo_replica_set(topologies) for n in t.mongo_members]


def test_mongo_members_mount_deploy_mongo_replica_set_member_sh(topologies):
    """/etc/mongo/replica-set-member.sh, which they run, is deploy/mongo/replica-set-member.sh."""
    assert_no_problems([f"{t.where(n)} does not mount deploy/mongo/replica-set-member.sh"
                        for t, n in mongo_members(topologies)
                        if mounted(t.services[n], "/etc/mongo/replica-set-member.sh") != "deploy/mongo/replica-set-member.sh"])


def test_mongo_members_publish_no_port_to_the_host(topologies):
    """No replica-set member publishes a port."""
    assert_no_problems([f"{t.where(n)} publishes a port to the host"
                        for t, n in mongo_members(topologies) if t.services[n].get("ports")])


def test_only_the_first_mongo_member_creates_the_root_user(topologies):
    """MONGO_INITDB_ROOT_USERNAME on mongo and on no other member (they copy the users)."""
    assert_no_problems([f"{t.where(n)}: only the first member (mongo) may create the users; the others copy them"
                        for t, n in mongo_members(topologies)
                        if ("MONGO_INITDB_ROOT_USERNAME" in t.env[n]) != (n == "mongo")])


def test_the_first_mongo_member_creates_the_auth_service_user(topologies):
    """mongo mounts deploy/mongo/create-auth-service-user.js into /docker-entrypoint-initdb.d."""
    assert_no_problems([f"{t.path}: mongo does not run deploy/mongo/create-auth-service-user.js on its first start"
                        for t in with_mongo_replica_set(topologies)
                        if mounted(t.services["mongo"], "/docker-entrypoint-initdb.d/create-auth-service-user.js")
                        != "deploy/mongo/create-auth-service-user.js"])


def test_exactly_one_service_initiates_the_replica_set(topologies):
    """One service, no more, runs /etc/mongo/init-replica-set.js."""
    assert_no_problems([f"{t.path}: {len(t.mongo_inits)} services run init-replica-set.js, expected 1"
                        for t in with_mongo_replica_set(topologies) if len(t.mongo_inits) != 1])


def mongo_inits(topologies):
    """(topology, service, the set's name) of each service that runs init-replica-set.js."""
    return [(t, n, t.env[t.mongo_members[0]].get("MONGO_REPLICA_SET"))
            for t in with_mongo_replica_set(topologies) for n in t.mongo_inits]


def test_replica_set_init_lists_every_member_mongo_first(topologies):
    """MONGO_REPLICA_SET_MEMBERS is every member on 27017, mongo:27017 first."""
    problems = []
    for t, n, _ in mongo_inits(topologies):
        listed = [m.strip() for m in t.env[n].get("MONGO_REPLICA_SET_MEMBERS", "").split(",")]
        if set(listed) != {f"{m}:27017" for m in t.mongo_members} or listed[0] != "mongo:27017":
            problems.append(f"{t.where(n)}: MONGO_REPLICA_SET_MEMBERS {listed} are not the members, mongo first")
    assert_no_problems(problems)


def test_replica_set_init_uses_the_members_set_name(topologies):
    """The initiating service's MONGO_REPLICA_SET is the members' one."""
    assert_no_problems([f"{t.where(n)}: MONGO_REPLICA_SET is not {name}"
                        for t, n, name in mongo_inits(topologies) if t.env[n].get("MONGO_REPLICA_SET") != name])


def test_replica_set_init_logs_in_as_mongos_root_user(topologies):
    """MONGO_ROOT_PASSWORD is mongo's MONGO_INITDB_ROOT_PASSWORD."""
    assert_no_problems([f"{t.where(n)}: logs in with another password than mongo's root user"
                        for t, n, _ in mongo_inits(topologies)
                        if t.env[n].get("MONGO_ROOT_PASSWORD") != t.env["mongo"].get("MONGO_INITDB_ROOT_PASSWORD")])


def test_replica_set_init_waits_for_every_member_to_be_healthy(topologies):
    """depends_on every member with condition service_healthy."""
    assert_no_problems([p for t, n, _ in mongo_inits(topologies)
                        for p in waits_for(t.where(n), t.services[n], t.mongo_members, "service_healthy")])


def test_auth_service_uses_the_replica_set_with_majority_reads_and_writes(topologies):
    """APP__MONGODB__URI: auth-service@every member, replicaSet, w=majority, retryWrites,
    readConcernLevel=majority, authSource."""
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
    assert_no_problems(problems)


def test_auth_service_waits_for_the_replica_set_init(topologies):
    """The auth-service waits for init-replica-set to complete successfully."""
    assert_no_problems([p for t in with_mongo_replica_set(topologies)
                        for p in waits_for(t.where("auth-service"), t.services["auth-service"], t.mongo_inits,
                                           "service_completed_successfully")])


def test_env_example_shows_a_replica_set_mongodb_uri(topologies):
    """.env.example has an APP__MONGODB__URI with replicaSet, w, retryWrites and readConcernLevel
    (checked when a topology runs a MongoDB replica set)."""
    if not with_mongo_replica_set(topologies):
        return
    example = [line for line in open(os.path.join(ROOT, ".env.example"))
               if "APP__MONGODB__URI=" in line and "replicaSet=" in line]
    assert example and all(f"{k}=" in example[0] for k in ("replicaSet", "w", "retryWrites", "readConcernLevel")), \
        ".env.example shows no replica-set APP__MONGODB__URI with replicaSet, w, retryWrites and readConcernLevel"
