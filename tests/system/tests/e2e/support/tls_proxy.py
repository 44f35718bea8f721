"""A TLS front for the auth-service in tests: HTTPS on 127.0.0.1:PORT with CERT/KEY,
every request passed on to UPSTREAM over plain HTTP, the answer passed back.

usage: tls_proxy.py UPSTREAM PORT CERT KEY
"""
import http.server
import ssl
import sys
import urllib.error
import urllib.request

UPSTREAM, PORT, CERT, KEY = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Forward(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        req = urllib.request.Request(UPSTREAM + self.path, data=body, method=self.command)
        for name, value in self.headers.items():
            if name.lower() not in HOP:
                req.add_header(name, value)
        try:
            res = DIRECT.open(req, timeout=5)
            status, data, headers = res.status, res.read(), res.headers
        except urllib.error.HTTPError as err:
            status, data, headers = err.code, err.read(), err.headers
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = forward
    do_POST = forward

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Forward)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CERT, KEY)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
