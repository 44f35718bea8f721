"""A service in another language behind the gateway: a few lines of Python's
http.server that answer every request with the identity headers it received (and
any Authorization, Cookie or X-CSRF-Token that reached it), and print one JSON line
per request (method, path, headers) to stdout.

usage: python3 upstream.py [PORT]   (default 8000; listens on all interfaces)
"""
import http.server
import json
import sys

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8000


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        seen = {
            "method": self.command,
            "path": self.path,
            "userId": self.headers.get_all("X-User-Id"),
            "email": self.headers.get_all("X-User-Email"),
            "sessionId": self.headers.get_all("X-Session-Id"),
            "authorization": self.headers.get("Authorization"),
            "cookie": self.headers.get_all("Cookie"),
            "csrf": self.headers.get("X-CSRF-Token"),
        }
        print(json.dumps(seen), flush=True)
        body = json.dumps({"hello": (seen["userId"] or [None])[0], "seen": seen}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Echo).serve_forever()
