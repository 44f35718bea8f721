"""The account page with more than one device: the list, signing one device out, every
other device, and a password change."""

from api import PASSWORD
from browser import SESSION_COOKIE, BrowserTestCase

AGENT_A = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36 BrowserTestsA"
HOSTILE_AGENT = "<img src=x onerror=alert(1)>"


class SessionsTests(BrowserTestCase):
    def test_two_browsers_each_listed_and_one_signs_the_other_out(self):
        email = self.new_account("devices")
        first = self.open("first", user_agent=AGENT_A)
        second = self.open("second", user_agent=HOSTILE_AGENT)

        first.sign_in(email)
        first.wait_account()
        second.sign_in(email)
        second.wait_account()

        # The second browser's own list shows its hostile User-Agent as plain text.
        listed = second.wait_session_count(2)
        mine = [s for s in listed if s["current"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["agent"], HOSTILE_AGENT)
        self.assertEqual(second.driver.execute_script("return document.images.length"), 0)
        second.assert_no_alert()

        first.go("/account")
        first.wait_account()
        listed = first.wait_session_count(2)
        current = [s for s in listed if s["current"]]
        other = [s for s in listed if not s["current"]]
        self.assertEqual(len(current), 1, listed)
        self.assertEqual(len(other), 1, listed)
        self.assertEqual(current[0]["badge"], "This browser")
        self.assertEqual(current[0]["agent"], AGENT_A)
        self.assertEqual(current[0]["device"], "Chrome on Linux")
        self.assertEqual(other[0]["agent"], HOSTILE_AGENT)
        self.assertEqual(other[0]["device"], "Unknown device")
        self.assertIn(other[0]["ip"], ("127.0.0.1", "::1"))
        self.assertEqual(other[0]["button"], "Sign out")
        self.assertEqual(first.driver.execute_script("return document.images.length"), 0)
        # Newest first: the second browser signed in last.
        self.assertEqual(listed[0]["id"], other[0]["id"])
        first.assert_no_alert()
        first.driver.execute_script("document.getElementById('sessions-title').scrollIntoView()")
        self.snap(first, "two-sessions")

        first.sign_out_button(other[0]["id"]).click()
        remaining = first.wait_session_count(1)
        self.assertTrue(remaining[0]["current"])
        self.assertIn("Signed out", first.wait_text("sessions-status"))

        # The second browser's next page load finds no session: back to sign-in.
        second.go("/account")
        second.wait_path("/")
        self.assertTrue(second.find("signin-form").is_displayed())
        # The first stays signed in.
        first.go("/account")
        first.wait_account()

    def test_sign_out_everywhere_else_keeps_only_this_browser(self):
        email = self.new_account("others")
        first = self.open("first")
        second = self.open("second")
        second.sign_in(email)
        second.wait_account()
        elsewhere = self.api.log_in(email, user_agent="curl/8.5.0")
        first.sign_in(email)
        first.wait_account()
        listed = first.wait_session_count(3)
        self.assertIn("curl", [s["device"] for s in listed])

        first.find("sign-out-others").click()
        self.assertEqual(first.wait_text("sessions-status"), "Signed out everywhere else.")
        remaining = first.wait_session_count(1)
        self.assertTrue(remaining[0]["current"])
        self.assertFalse(first.find("sign-out-others").is_enabled())

        self.assertEqual(self.api.session_status(elsewhere), 401)
        second.go("/account")
        second.wait_path("/")
        first.go("/account")
        first.wait_account()
        self.assertEqual(len(first.wait_session_count(1)), 1)

    def test_password_change_ends_other_sessions_and_only_the_new_password_works(self):
        email = self.new_account("password")
        new_password = "a much better passphrase"
        first = self.open("first")
        second = self.open("second")
        first.sign_in(email)
        first.wait_account()
        second.sign_in(email)
        second.wait_account()
        first.go("/account")
        first.wait_account()
        first.wait_session_count(2)

        # A wrong current password: the server's message, and nobody is signed out.
        first.fill("current-password", "not my password")
        first.fill("new-password", new_password)
        first.find("password-submit").click()
        refused = first.wait_text("password-error")
        self.assertEqual(refused, self.invalid_credentials_message(email))
        self.assertEqual(first.find("current-password").get_attribute("aria-invalid"), "true")
        self.assertEqual(first.path(), "/account")
        self.assertEqual(len(first.sessions()), 2)

        first.fill("current-password", PASSWORD)
        first.fill("new-password", new_password)
        first.find("password-submit").click()
        self.assertIn("Password changed", first.wait_text("password-status"))
        self.assertEqual(first.text("password-error"), "")
        self.assertTrue(first.wait_session_count(1)[0]["current"])

        second.go("/account")
        second.wait_path("/")

        first.find("sign-out").click()
        first.wait_path("/")
        first.sign_in(email, PASSWORD)
        self.assertTrue(first.wait_text("signin-error"))
        self.assertEqual(first.path(), "/")
        self.assertIsNone(first.cookie(SESSION_COOKIE))
        first.sign_in(email, new_password)
        first.wait_account()
        self.assertEqual(first.wait_text("account-email"), email)

    def invalid_credentials_message(self, email):
        """The message the server gives for a wrong password (asked of a made-up address
        so as not to count another failure against this test's account)."""
        answer = self.api.call(
            "POST", "/login", {"email": "nobody-" + email, "password": "whatever it is"}
        )
        self.assertEqual(answer.status, 401)
        return answer.body["message"]

    def test_the_page_leaves_for_sign_in_when_its_session_is_ended_elsewhere(self):
        email = self.new_account("ended")
        elsewhere = self.api.log_in(email)
        page = self.open()
        page.sign_in(email)
        page.wait_account()
        mine = [s for s in page.wait_session_count(2) if s["current"]][0]["id"]

        ended = self.api.call("DELETE", f"/sessions/{mine}", token=elsewhere["token"])
        self.assertEqual(ended.status, 204, ended)
        self.assertEqual(page.path(), "/account")
        # The person comes back to the tab: the page checks its session at once (no
        # reload by the test), finds it gone and goes to sign-in.
        page.driver.execute_script("document.dispatchEvent(new Event('visibilitychange'))")
        page.wait_path("/")
        self.assertTrue(page.find("signin-form").is_displayed())
