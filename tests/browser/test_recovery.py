"""A forgotten password, as a person gets back in: "Forgot your password?" on the sign-in
page, the link in the mail the SMTP sink received, a new password on /reset, then sign
in with it; the old session and the old password are refused. Keyboard alone."""

import email
import email.policy
import os
import re
import time

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from api import PASSWORD
from browser import WAIT_SECONDS, BrowserTestCase

NEW_PASSWORD = "battery staple horse"


def mail_dir():
    directory = os.environ.get("BROWSER_MAIL_DIR")
    if not directory:
        raise AssertionError("BROWSER_MAIL_DIR is not set (run scripts/browser-tests.sh)")
    return directory


def mails_to(address):
    """The mails the sink received for `address`, oldest first, parsed."""
    found = []
    for name in sorted(os.listdir(mail_dir())):
        if not name.endswith(".eml"):
            continue
        with open(os.path.join(mail_dir(), name), "rb") as raw:
            message = email.message_from_binary_file(raw, policy=email.policy.default)
        if message["To"] == address:
            found.append(message)
    return found


def wait_mail(address, seconds=WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        mails = mails_to(address)
        if mails:
            return mails[-1]
        time.sleep(0.1)
    raise AssertionError(f"no mail to {address} within {seconds} s")


class RecoveryTests(BrowserTestCase):
    def test_a_forgotten_password_is_reset_from_the_mailed_link(self):
        address = self.new_account("forgot")
        old = self.open("old-session")
        old.sign_in(address)
        old.wait_account()

        page = self.open("forgot")
        page.go("/")
        page.wait_path("/")
        # Keyboard alone: open "Forgot your password?", type the address, send.
        summary = page.driver.find_element("css selector", "#forgot > summary")
        self.assertEqual(summary.text, "Forgot your password?")
        summary.send_keys(Keys.ENTER)
        page.wait(lambda: page.find("forgot-email").is_displayed(), "the form did not open")
        page.find("forgot-email").send_keys(address)
        page.find("forgot-email").send_keys(Keys.ENTER)
        status = page.wait_text("forgot-status")
        self.assertIn("If an account has this address", status)

        mail = wait_mail(address)
        self.assertEqual(mail["Subject"], "Reset your password")
        text = mail.get_body(preferencelist=("plain",)).get_content()
        html = mail.get_body(preferencelist=("html",)).get_content()
        link = re.search(r"(http://\S+/reset#token=[A-Za-z0-9_-]{43})", text).group(1)
        self.assertIn(link, html)
        self.assertTrue(link.startswith(page.base + "/reset#token="), link)

        # The link opens /reset; the token leaves the address bar at once.
        page.driver.get(link)
        page.wait_path("/reset")
        page.wait(lambda: "token" not in page.driver.current_url, "the token stayed in the URL")
        page.wait(
            lambda: page.driver.switch_to.active_element == page.find("reset-password"),
            "the new password field has no focus",
        )
        ActionChains(page.driver).send_keys(NEW_PASSWORD, Keys.TAB, NEW_PASSWORD, Keys.ENTER).perform()
        shown = page.wait_text("reset-status")
        self.assertIn("Sign in with the new password", shown)
        page.find("reset-sign-in").click()
        page.wait_path("/")
        page.sign_in(address, NEW_PASSWORD)
        page.wait_account()
        self.assertEqual(page.wait_text("account-email"), address)
        self.assertEqual(len(page.wait_session_count(1)), 1)
        self.assertEqual(page.console_errors(), [])

        # The session from before the reset is gone, and so is the old password.
        old.go("/account")
        old.wait_path("/")
        self.assertEqual(
            self.api.call("POST", "/login", {"email": address, "password": PASSWORD}).status, 401
        )

    def test_a_used_link_says_so_on_the_reset_page(self):
        address = self.new_account("used")
        self.assertEqual(self.api.call("POST", "/password/forgot", {"email": address}).status, 202)
        link = re.search(
            r"(http://\S+/reset#token=[A-Za-z0-9_-]{43})",
            wait_mail(address).get_body(preferencelist=("plain",)).get_content(),
        ).group(1)
        token = link.rsplit("=", 1)[1]
        self.assertEqual(
            self.api.call("POST", "/password/reset", {"token": token, "newPassword": NEW_PASSWORD}).status,
            204,
        )
        page = self.open("used")
        page.driver.get(link)
        page.wait_path("/reset")
        page.fill("reset-password", "another new password")
        page.fill("reset-confirm", "another new password")
        page.find("reset-submit").click()
        self.assertIn("unknown, used or expired", page.wait_text("reset-error"))
        # The browser logs the refused request itself; nothing else went wrong.
        others = [e for e in page.console_errors() if "status of 400" not in e]
        self.assertEqual(others, [])
