#!/usr/bin/env python3
"""Traffic for the dashboard's picture (deploy/grafana/picture.sh): every panel gets
something to show. Standard library only.

Users sign up, log in from several devices (the services run with
session.per_user = multiple and a small session.max_per_user, so logins evict),
call /me on the resource-service (validation cache on: mostly hits), and now and
then log out, sign out other devices or everywhere, change their password or have an
admin end their sessions. Some requests carry a wrong password, a garbage or an old
token, or no credential; one email is hammered with wrong passwords until throttled;
unknown paths get 404.

    load.py AUTH_URL RESOURCE_URL ADMIN_TOKEN SECONDS
"""

import http.client
import json
import random
import sys
import threading
import time
from urllib.parse import urlsplit

USERS = 24
PASSWORD = "correct horse battery"


class Client:
    """One keep-alive connection to a service."""

    def __init__(self, url):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.conn = None

    def request(self, method, path, body=None, token=None, headers=None):
        """(status, parsed JSON body or None); (0, None) when the connection failed."""
        hdrs = dict(headers or {})
        if body is not None:
            body = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.conn.request(method, path, body=body, headers=hdrs)
                res = self.conn.getresponse()
                data = res.read()
                try:
                    parsed = json.loads(data) if data else None
                except ValueError:
                    parsed = None
                return res.status, parsed
            except (OSError, http.client.HTTPException):
                self.conn = None
        return 0, None


class World:
    """The users, their passwords and live tokens, and tokens that ended."""

    def __init__(self):
        self.lock = threading.Lock()
        self.users = {}  # email -> {"id", "password", "tokens": [..]}
        self.dead = []  # tokens whose session ended

    def add_token(self, email, token, max_per_user):
        with self.lock:
            tokens = self.users[email]["tokens"]
            tokens.append(token)
            while len(tokens) > max_per_user:
                self.dead.append(tokens.pop(0))

    def end(self, email, keep=None):
        with self.lock:
            tokens = self.users[email]["tokens"]
            self.dead.extend(t for t in tokens if t != keep)
            self.users[email]["tokens"] = [keep] if keep else []
            del self.dead[:-200]

    def pick(self):
        with self.lock:
            email = random.choice(list(self.users))
            return email, dict(self.users[email], tokens=list(self.users[email]["tokens"]))


def main():
    auth_url, resource_url, admin_token, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    max_per_user = 3
    world = World()
    run = f"{int(time.time())}-{random.randrange(1 << 30):x}"
    deadline = time.time() + seconds
    stop = threading.Event()

    def signups():
        auth = Client(auth_url)
        for i in range(USERS):
            email = f"load-{run}-{i}@example.com"
            status, body = auth.request("POST", "/signup", {"email": email, "password": PASSWORD})
            if status == 201:
                with world.lock:
                    world.users[email] = {"id": body["userId"], "password": PASSWORD, "tokens": []}
            if stop.is_set():
                return

    def logins():
        auth = Client(auth_url)
        victim = f"victim-{run}@example.com"
        auth.request("POST", "/signup", {"email": victim, "password": PASSWORD})
        next_attack = time.time() + 20
        while not stop.is_set():
            if not world.users:
                time.sleep(0.2)
                continue
            if time.time() > next_attack:
                # More wrong passwords than login.max_failures_per_email: throttled.
                for _ in range(8):
                    auth.request("POST", "/login", {"email": victim, "password": "not the password"})
                next_attack = time.time() + random.uniform(30, 60)
            email, user = world.pick()
            if random.random() < 0.12:
                auth.request("POST", "/login", {"email": email, "password": "wrong password"})
                continue
            status, body = auth.request("POST", "/login", {"email": email, "password": user["password"]})
            if status == 200:
                world.add_token(email, body["token"], max_per_user)
            time.sleep(random.uniform(0.0, 0.3))

    def api_calls():
        resource, auth = Client(resource_url), Client(auth_url)
        while not stop.is_set():
            if not world.users:
                time.sleep(0.2)
                continue
            email, user = world.pick()
            roll = random.random()
            if roll < 0.03:
                resource.request("GET", "/me", token="not-a-token")
            elif roll < 0.04:
                resource.request("GET", "/me")
            elif roll < 0.07:
                with world.lock:
                    old = random.choice(world.dead) if world.dead else None
                if old:
                    resource.request("GET", "/me", token=old)
            elif roll < 0.075:
                resource.request("GET", f"/no-such-page/{random.randrange(1000)}")
            elif roll < 0.12 and user["tokens"]:
                auth.request("GET", "/session", token=random.choice(user["tokens"]))
            elif user["tokens"]:
                resource.request("GET", "/me", token=random.choice(user["tokens"]))
            time.sleep(random.uniform(0.0, 0.004))

    def session_changes():
        auth = Client(auth_url)
        admin = {"Authorization": f"Bearer {admin_token}"}
        while not stop.is_set():
            time.sleep(random.uniform(0.5, 1.5))
            if not world.users:
                continue
            email, user = world.pick()
            if not user["tokens"]:
                continue
            token = user["tokens"][-1]
            roll = random.random()
            if roll < 0.45:
                if auth.request("POST", "/logout", token=token)[0] == 204:
                    with world.lock:
                        world.users[email]["tokens"].remove(token)
                        world.dead.append(token)
            elif roll < 0.65:
                if auth.request("POST", "/logout/others", token=token)[0] == 204:
                    world.end(email, keep=token)
            elif roll < 0.80:
                if auth.request("POST", "/logout/all", token=token)[0] == 204:
                    world.end(email)
            elif roll < 0.90:
                new = PASSWORD if user["password"] != PASSWORD else PASSWORD + " 2"
                body = {"currentPassword": user["password"], "newPassword": new}
                if auth.request("POST", "/password", body, token=token)[0] == 204:
                    with world.lock:
                        world.users[email]["password"] = new
                    world.end(email, keep=token)
            else:
                path = f"/admin/users/{user['id']}/sessions"
                if auth.request("DELETE", path, headers=admin)[0] == 204:
                    world.end(email)

    threads = [threading.Thread(target=signups)]
    threads += [threading.Thread(target=logins) for _ in range(3)]
    threads += [threading.Thread(target=api_calls) for _ in range(4)]
    threads += [threading.Thread(target=session_changes)]
    for t in threads:
        t.daemon = True
        t.start()
    while time.time() < deadline:
        time.sleep(1)
    stop.set()
    for t in threads:
        t.join(timeout=35)
    print(f"load: {len(world.users)} users, {len(world.dead)} ended tokens kept")


if __name__ == "__main__":
    main()
