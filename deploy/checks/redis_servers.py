"""Real redis-servers started through deploy/redis/start.sh, as compose starts them,
on free ports in a temporary directory; redis-cli as a given ACL user."""

import os
import re
import secrets
import signal
import socket
import subprocess
import time

import pytest

from tools import ROOT, tool

RULES = os.path.join(ROOT, "deploy/redis/acl-rules.txt")
REPLICATED_RULES = RULES + ":" + os.path.join(ROOT, "deploy/redis/acl-rules-replicated.txt")
SENTINEL_RULES = os.path.join(ROOT, "deploy/redis/sentinel-acl-rules.txt")
START_SH = "deploy/redis/start.sh"


def random_password():
    """32 hex characters, like `openssl rand -hex 16`."""
    return secrets.token_hex(16)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_env(variables):
    """The environment start.sh runs with: ours, ACL_RULES of acl-rules.txt unless the
    variables name others, then the variables."""
    return {**os.environ, "ACL_RULES": RULES, **variables}


class RedisServers:
    """Servers started by start.sh in directory; stop() ends every one of them."""

    def __init__(self, directory):
        self.directory = str(directory)
        self.processes = []
        tool("redis-server")
        tool("redis-cli")

    def start(self, name, port, variables, *args):
        """Runs start.sh (which execs redis-server) with these variables, listening on
        port, with later redis-server args; its ACL and config files go to its own
        folder. Returns the process once the port answers; fails the test otherwise."""
        directory = os.path.join(self.directory, name)
        os.makedirs(directory, exist_ok=True)
        env = start_env(variables)
        env["ACL_FILE"] = os.path.join(directory, "users.acl")
        log = open(os.path.join(directory, "start.log"), "w")
        process = subprocess.Popen(
            ["sh", START_SH, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
             "--logfile", os.path.join(directory, "redis.log"), *map(str, args)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.processes.append(process)
        for _ in range(200):
            if port_open(port):
                return process
            if process.poll() is not None:
                break
            time.sleep(0.1)
        tails = []
        for log_name in ("start.log", "redis.log"):
            path = os.path.join(directory, log_name)
            if os.path.isfile(path):
                tails += [f"{log_name}: {line}" for line in open(path).read().splitlines()[-3:]]
        pytest.fail(f"{START_SH} ({name}) started no server on port {port}:\n" + "\n".join(tails))

    def stop(self):
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.terminate()
        for p in self.processes:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def redis_cli(port, *command, user=None, password=None):
    """Redis's answer to a command (as that ACL user; the password goes through the
    environment, not the command line)."""
    args = [tool("redis-cli"), "--no-auth-warning", "-p", str(port)]
    env = dict(os.environ)
    if user is not None:
        args += ["--user", user]
        env["REDISCLI_AUTH"] = password
    result = subprocess.run(args + [str(c) for c in command], capture_output=True, text=True, env=env, timeout=30)
    return result.stdout + result.stderr


def expect(what, answer, pattern):
    """Some line of answer matches pattern (as grep would)."""
    assert re.search(pattern, answer, re.M), f"{START_SH}: {what}: expected {pattern}, got: {answer}"


def wait_for(seconds, what, condition):
    """Polls condition every 0.2 s; fails the test when it is not true in time."""
    for _ in range(int(seconds * 5)):
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"{what}: not after {seconds}s")
