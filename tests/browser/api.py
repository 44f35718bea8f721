"""Direct calls to the auth-service's JSON endpoints, outside any browser.

The tests use them to set the scene (an account, a session on "another device" held as
a Bearer token) and to check from outside what a page did (is that session still live?).
"""

import json
import secrets
import time
import urllib.error
import urllib.request

PASSWORD = "correct horse battery"


def unique_email(label):
    """An address no other test (or earlier run against the same database) uses."""
    return f"{label}-{secrets.token_hex(5)}@example.com"


class Response:
    """Status, headers and parsed JSON body (None when there is none)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self):
        return f"Response({self.status}, {self.body!r})"


class Api:
    """A tiny JSON client for one service base URL."""

    def __init__(self, base_url):
        self.base_url = base_url.rstrip("/")

    def call(self, method, path, body=None, token=None, headers=None):
        data = None
        all_headers = {"Accept": "application/json", "User-Agent": "browser-tests-api/1"}
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        all_headers.update(headers or {})
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return Response(answer.status, answer.headers, _json(answer.read()))
        except urllib.error.HTTPError as refused:
            return Response(refused.code, refused.headers, _json(refused.read()))

    def sign_up(self, email, password=PASSWORD):
        answer = self.call("POST", "/signup", {"email": email, "password": password})
        assert answer.status == 201, f"sign-up of {email} failed: {answer!r}"
        return answer.body

    def log_in(self, email, password=PASSWORD, user_agent=None):
        """A Bearer session (no cookie), e.g. a session on another device: the login
        answer, with `token` and `sessionId`."""
        headers = {"User-Agent": user_agent} if user_agent else None
        answer = self.call(
            "POST", "/login", {"email": email, "password": password}, headers=headers
        )
        assert answer.status == 200, f"login of {email} failed: {answer!r}"
        assert answer.body.get("token"), f"a login without cookie returns the token: {answer!r}"
        return answer.body

    def session_status(self, login):
        """The status of GET /session with a login's Bearer token: 200 while it lives."""
        return self.call("GET", "/session", token=login["token"]).status

    def wait_ready(self, limit_seconds=30):
        deadline = time.monotonic() + limit_seconds
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.call("GET", "/health/ready")
                if last.status == 200:
                    return
            except OSError as error:
                last = error
            time.sleep(0.2)
        raise AssertionError(f"{self.base_url} was not ready after {limit_seconds}s: {last!r}")


def _json(raw):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"raw": raw.decode(errors="replace")}
