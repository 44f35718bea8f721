"""Cross-site request forgery: a page on another origin that makes the signed-in
browser post to the auth-service changes nothing, and a cookie-authenticated unsafe
request without the right X-CSRF-Token is refused with 403 csrf_failed."""

import http.server
import threading
import urllib.parse

from browser import CSRF_COOKIE, BrowserTestCase

# The attacker's page: a no-cors fetch with the browser's cookies, then a form that
# posts to the same endpoint (a top-level navigation, as a click on a link would).
ATTACK_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>a page elsewhere</title></head>
<body>
<form id="attack" method="post" action="{target}/logout/others">
  <input type="hidden" name="anything" value="1">
</form>
<script>
fetch("{target}/logout/others", {{method: "POST", credentials: "include", mode: "no-cors"}})
  .catch(function () {{}})
  .then(function () {{
    document.title = "fetched";
    document.getElementById("attack").submit();
  }});
</script>
</body></html>
"""


class AttackerSite:
    """An HTTP server on its own port (so another origin) serving ATTACK_PAGE."""

    def __init__(self, target):
        page = ATTACK_PAGE.format(target=target).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CsrfTests(BrowserTestCase):
    def signed_in_with_another_device(self, label):
        """A browser on /account, and a Bearer session of the same user elsewhere."""
        email = self.new_account(label)
        elsewhere = self.api.log_in(email, user_agent="OtherDevice/1.0")
        page = self.open()
        page.sign_in(email)
        page.wait_account()
        self.assertEqual(len(page.wait_session_count(2)), 2)
        return page, elsewhere

    def attack_from(self, page, host):
        """Opens the attacker's page at http://<host>:<its port>/ and returns the error
        code the auth-service answered the form's post with."""
        site = AttackerSite(page.base)
        self.addCleanup(site.close)
        page.driver.get(f"http://{host}:{site.port}/")
        page.wait_path("/logout/others")
        landed = urllib.parse.urlsplit(page.driver.current_url)
        self.assertEqual(landed.netloc, urllib.parse.urlsplit(page.base).netloc)
        body = page.driver.find_element("tag name", "body").text
        return body

    def assert_nothing_changed(self, page, elsewhere):
        self.assertEqual(self.api.session_status(elsewhere), 200, "the other session ended")
        page.go("/account")
        page.wait_account()
        self.assertEqual(len(page.wait_session_count(2)), 2)

    def test_a_same_site_page_on_another_port_cannot_sign_out_other_devices(self):
        # localhost:<other port> is the same site (cookies go along) but another
        # origin: only the X-CSRF-Token requirement stops it.
        page, elsewhere = self.signed_in_with_another_device("samesite")
        body = self.attack_from(page, "localhost")
        self.assertIn('"csrf_failed"', body)
        self.assert_nothing_changed(page, elsewhere)

    def test_a_cross_site_page_cannot_sign_out_other_devices(self):
        # 127.0.0.1 is another site than localhost: SameSite=Lax keeps the cookies
        # off the post, so the service sees no credential at all.
        page, elsewhere = self.signed_in_with_another_device("crosssite")
        body = self.attack_from(page, "127.0.0.1")
        self.assertIn('"missing_authorization"', body)
        self.assert_nothing_changed(page, elsewhere)

    def test_a_cookie_request_without_the_csrf_header_is_refused(self):
        page, elsewhere = self.signed_in_with_another_device("header")

        for method, path, headers in (
            ("POST", "/logout/others", {}),
            ("POST", "/logout/others", {"X-CSRF-Token": "not-the-token"}),
            ("POST", "/logout", {}),
            ("DELETE", f"/sessions/{elsewhere['sessionId']}", {}),
            ("POST", "/session/refresh", {}),
        ):
            with self.subTest(method=method, path=path, headers=headers):
                status, body = self.fetch_json(page, method, path, headers)
                self.assertEqual(status, 403, body)
                self.assertEqual(body["error"], "csrf_failed")
                self.assertTrue(body["message"])

        # A read needs no header; nothing above changed anything.
        status, body = self.fetch_json(page, "GET", "/sessions")
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["sessions"]), 2)
        self.assertEqual(self.api.session_status(elsewhere), 200)

        # With the CSRF cookie's value in the header the same request goes through.
        csrf = page.cookie(CSRF_COOKIE)["value"]
        status, body = self.fetch_json(page, "POST", "/logout/others", {"X-CSRF-Token": csrf})
        self.assertEqual(status, 204, body)
        self.assertEqual(self.api.session_status(elsewhere), 401)
