"""docker-compose.yml and deploy/compose/*.yml: reading them, and the roles their
services play in a topology (Redis data nodes, sentinels, Cluster nodes, MongoDB
replica-set members)."""

import os
import re

import yaml

from tools import ROOT, run, tool

TOPOLOGY_FILES = sorted(
    os.path.join("deploy/compose", f) for f in os.listdir(os.path.join(ROOT, "deploy/compose"))
    if f.endswith(".yml"))


def load_yaml(path):
    with open(os.path.join(ROOT, path)) as f:
        return yaml.safe_load(f) or {}


def compose_config(env_file, files, profiles=(), quiet=False):
    """docker-compose config of these files; the merged YAML (None with quiet)."""
    args = [tool("docker-compose"), "--env-file", env_file]
    for f in files:
        args += ["-f", f]
    for p in profiles:
        args += ["--profile", p]
    result = run(args + ["config"] + (["-q"] if quiet else []))
    return None if quiet else yaml.safe_load(result.stdout)


def config_key(name):
    """APP__REDIS__MODE -> redis.mode."""
    return ".".join(name[len("APP__"):].lower().split("__"))


def volume_source(volume):
    """The host side of a volume entry (short or long syntax)."""
    return volume.split(":")[0] if isinstance(volume, str) else (volume.get("source") or "")


def mounted(svc, target):
    """The repository file mounted at target in the container, or None."""
    for v in svc.get("volumes") or []:
        src, dst = (v.split(":")[:2] if isinstance(v, str) else (v.get("source"), v.get("target")))
        if dst == target:
            return os.path.relpath(src, ROOT) if src and os.path.isabs(src) else src
    return None


def users_in(path):
    """The users of an ACL rules file (deploy/redis/*acl-rules*.txt)."""
    users = []
    with open(os.path.join(ROOT, path)) as f:
        for line in f:
            words = line.split()
            if words and not words[0].startswith("#"):
                users.append(words[0])
    return users


def password_var(user):
    """auth-service -> REDIS_AUTH_SERVICE_PASSWORD, the variable start.sh reads."""
    return "REDIS_" + user.upper().replace("-", "_") + "_PASSWORD"


def command_arg(svc, flag):
    """The value after flag in the service's command, or None."""
    cmd = svc.get("command") or []
    return cmd[cmd.index(flag) + 1] if flag in cmd and cmd.index(flag) + 1 < len(cmd) else None


def runs(svc, script):
    """The service's entrypoint or command names script."""
    return any(script in str(w) for w in (svc.get("entrypoint") or []) + (svc.get("command") or []))


def waits_for(where, svc, names, condition):
    """Problems: the service does not wait (depends_on condition) for each of names."""
    deps = svc.get("depends_on") or {}
    problems = []
    for n in names:
        got = (deps.get(n) or {}).get("condition") if isinstance(deps, dict) else None
        if got != condition:
            problems.append(f"{where} does not wait for {n} ({condition})")
    return problems


class Topology:
    """One deploy/compose file as compose merges it over docker-compose.yml."""

    def __init__(self, path, services):
        self.path = path
        self.services = services
        self.env = {n: {k: str(v) for k, v in (s.get("environment") or {}).items()}
                    for n, s in services.items()}
        # Services that run deploy/redis/start.sh: data nodes and sentinels.
        self.redis_servers = sorted(n for n, s in services.items() if runs(s, "/etc/redis/start.sh"))
        self.sentinels = [n for n in self.redis_servers if "SENTINEL_CONFIG" in self.env[n]]
        self.redis_nodes = [n for n in self.redis_servers if n not in self.sentinels]
        self.cluster = [n for n in self.redis_nodes
                        if command_arg(services[n], "--include") == "/etc/redis/cluster.conf"]
        self.cluster_inits = [n for n, s in services.items() if runs(s, "/etc/redis/cluster-init.sh")]
        self.mongo_members = [n for n, s in services.items() if runs(s, "/etc/mongo/replica-set-member.sh")]
        self.mongo_inits = [n for n, s in services.items() if runs(s, "/etc/mongo/init-replica-set.js")]
        self.apps = {n: self.env[n] for n in ("auth-service", "resource-service")}

    def __repr__(self):
        return self.path

    def where(self, name):
        return f"{self.path} service {name}"

    def mode(self, app):
        return self.apps[app].get("APP__REDIS__MODE", "standalone")

    def app_password(self, app):
        """The password the redis service gives app's ACL user."""
        return self.env["redis"].get(password_var(app))

    def acl_rule_files(self, name):
        """(target, repository file or None) of each file the node's ACL_RULES names."""
        targets = self.env[name].get("ACL_RULES", "/etc/redis/acl-rules.txt").split(":")
        return [(t, mounted(self.services[name], t)) for t in targets]

    def users(self, name):
        """The ACL users of a Redis service (from the rules files it mounts)."""
        return [u for _, src in self.acl_rule_files(name)
                if src and os.path.isfile(os.path.join(ROOT, src)) for u in users_in(src)]

    def sentinel_config(self):
        """(config path, master name, watched host, quorum, port) of the sentinels, or
        None when the config has no 'port' or 'sentinel monitor' line."""
        first = self.sentinels[0]
        path = mounted(self.services[first], self.env[first].get("SENTINEL_CONFIG"))
        text = open(os.path.join(ROOT, path)).read() if path and os.path.isfile(os.path.join(ROOT, path)) else ""
        m = re.search(r"^sentinel monitor (\S+) (\S+) (\d+) (\d+)$", text, re.M)
        port = re.search(r"^port (\d+)$", text, re.M)
        if not m or not port:
            return path, None, None, None, None
        return path, m.group(1), m.group(2), int(m.group(4)), int(port.group(1))
