"""The account page keeps its session alive past the idle timeout, against an
auth-service started with a short `session.idle_timeout_seconds`."""

import datetime
import os
import time

from browser import SESSION_COOKIE, BrowserTestCase


def idle_base_url():
    url = os.environ.get("BROWSER_IDLE_BASE_URL")
    if not url:
        raise RuntimeError("BROWSER_IDLE_BASE_URL is not set: run scripts/browser-tests.sh")
    return url.rstrip("/")


def idle_seconds():
    return int(os.environ.get("BROWSER_IDLE_TIMEOUT_SECONDS", "6"))


def parse(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


class IdleTimeoutTests(BrowserTestCase):
    def setUp(self):
        self.base = idle_base_url()
        super().setUp()

    def test_an_open_account_page_outlives_the_idle_timeout(self):
        idle = idle_seconds()
        email = self.new_account("idle")
        # A session nobody uses after login: it must end after `idle` seconds.
        unused = self.api.log_in(email)
        page = self.open()
        page.sign_in(email)
        page.wait_account()
        opened = time.monotonic()

        expires = page.find("session-expires").get_attribute("datetime")
        absolute = page.find("session-absolute").get_attribute("datetime")
        self.assertLess(parse(expires), parse(absolute), "the idle deadline is not shown")
        self.assertTrue(page.find("session-expires-row").is_displayed())
        self.assertRegex(page.text("session-expires"), r"\d")
        self.assertEqual(page.text("session-absolute-label"), "Ends at the latest")
        # The page refreshes on its own and shows the pushed deadline.
        page.wait(
            lambda: page.find("session-expires").get_attribute("datetime") != expires,
            "the shown idle deadline never moved",
            seconds=idle,
        )
        moved = page.find("session-expires").get_attribute("datetime")
        self.assertGreater(parse(moved), parse(expires))
        self.assertLessEqual(parse(moved), parse(absolute))
        self.assertEqual(page.find("session-absolute").get_attribute("datetime"), absolute)

        time.sleep(max(0.0, idle + 2 - (time.monotonic() - opened)))
        self.assertEqual(self.api.session_status(unused), 401, "idle expiry is not on")
        self.assertIsNotNone(
            page.cookie(SESSION_COOKIE),
            "the browser dropped the session cookie (its Max-Age ran out) although the "
            "page kept the session alive with /session/refresh",
        )
        self.assertEqual(page.path(), "/account", "the open page lost its session")
        page.go("/account")
        page.wait_account()
        self.assertEqual(page.wait_text("account-email"), email)
