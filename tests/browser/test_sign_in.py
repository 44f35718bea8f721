"""The sign-in page: sign-up, sign-in and sign-out as a person does them, the cookies
they leave, the server's messages shown on failure, keyboard alone, a 360-pixel screen."""

import time
import urllib.parse

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from api import PASSWORD, unique_email
from browser import CSRF_COOKIE, SESSION_COOKIE, BrowserTestCase


class SignInPageTests(BrowserTestCase):
    def test_sign_up_signs_in_and_the_account_page_shows_who(self):
        page = self.open()
        email = unique_email("signup")
        page.sign_up(email)
        page.wait_account()

        self.assertEqual(page.wait_text("account-email"), email)
        # This browser's session and when it ends, as a time a person can read. This
        # service has no idle timeout, so there is one end only.
        shown = page.find("session-absolute")
        self.assertTrue(shown.get_attribute("datetime"), "the session's end has no datetime")
        self.assertRegex(shown.text, r"\d", "the session's end shows no time")
        self.assertEqual(page.text("session-absolute-label"), "Ends")
        self.assertFalse(page.find("session-expires-row").is_displayed())
        sessions = page.wait_session_count(1)
        self.assertTrue(sessions[0]["current"])
        self.assertEqual(sessions[0]["badge"], "This browser")

        # The token is in an HttpOnly cookie the page's script cannot read; the CSRF
        # cookie is readable. Both are Secure, SameSite=Lax, host-only, Path=/.
        session_cookie = page.cookie(SESSION_COOKIE)
        csrf_cookie = page.cookie(CSRF_COOKIE)
        self.assertIsNotNone(session_cookie, "no session cookie after sign-up")
        self.assertIsNotNone(csrf_cookie, "no CSRF cookie after sign-up")
        self.assertTrue(session_cookie["httpOnly"])
        self.assertFalse(csrf_cookie["httpOnly"])
        for cookie in (session_cookie, csrf_cookie):
            self.assertTrue(cookie["secure"], cookie)
            self.assertEqual(cookie["sameSite"], "Lax", cookie)
            self.assertEqual(cookie["path"], "/", cookie)
            self.assertFalse(cookie["domain"].startswith("."), cookie)
        visible = page.driver.execute_script("return document.cookie")
        self.assertIn(CSRF_COOKIE + "=", visible)
        self.assertNotIn(SESSION_COOKIE + "=", visible.replace(CSRF_COOKIE + "=", ""))

        # Signed in, the sign-in page sends the visitor on to /account.
        page.go("/")
        page.wait_account()

        # Sign out: back to /, both cookies gone, /account no longer opens.
        page.find("sign-out").click()
        page.wait_path("/")
        page.wait(lambda: page.cookie(SESSION_COOKIE) is None, "the session cookie stayed")
        self.assertIsNone(page.cookie(CSRF_COOKIE))
        page.go("/account")
        page.wait_path("/")
        self.assertEqual(page.console_errors(), [])

    def test_sign_in_lands_on_the_account_page(self):
        email = self.new_account("signin")
        page = self.open()
        page.sign_in(email)
        page.wait_account()
        self.assertEqual(page.wait_text("account-email"), email)
        self.assertEqual(len(page.wait_session_count(1)), 1)

    def test_a_wrong_password_shows_the_servers_message_and_stays(self):
        email = self.new_account("wrong")
        expected = self.api.call("POST", "/login", {"email": email, "password": "not the password"})
        self.assertEqual(expected.status, 401)

        page = self.open()
        page.sign_in(email, "not the password either")
        shown = page.wait_text("signin-error")
        self.assertEqual(shown, expected.body["message"])
        self.assertEqual(page.find("signin-error").get_attribute("role"), "alert")
        self.assertTrue(page.find("signin-error").is_displayed())
        self.assertEqual(page.path(), "/")
        self.assertIsNone(page.cookie(SESSION_COOKIE))

    def test_sign_up_refusals_show_the_servers_message(self):
        taken = self.new_account("taken")
        page = self.open()

        page.sign_up(unique_email("weak"), "short")
        weak = self.api.call("POST", "/signup", {"email": unique_email("weak"), "password": "short"})
        self.assertEqual(weak.status, 422)
        self.assertEqual(page.wait_text("signup-error"), weak.body["message"])
        self.assertEqual(page.find("signup-password").get_attribute("aria-invalid"), "true")

        page.sign_up(taken)
        again = self.api.call("POST", "/signup", {"email": taken, "password": PASSWORD})
        self.assertEqual(again.status, 409)
        page.wait(
            lambda: page.text("signup-error") == again.body["message"],
            "the email_taken message is not shown",
        )
        self.assertEqual(page.path(), "/")

    def test_the_account_page_needs_a_live_session(self):
        page = self.open()
        page.go("/account")
        page.wait_path("/")

        # A forged session cookie is no session either.
        page.driver.execute_cdp_cmd(
            "Network.setCookie",
            {
                "name": SESSION_COOKIE,
                "value": "forged.token.value",
                "url": page.base + "/",
                "secure": True,
                "httpOnly": True,
                "sameSite": "Lax",
                "path": "/",
            },
        )
        self.assertIsNotNone(page.cookie(SESSION_COOKIE), "the forged cookie was not set")
        page.go("/account")
        page.wait_path("/")
        self.assertTrue(page.find("signin-form").is_displayed())

    def test_keyboard_alone_signs_in_and_out(self):
        email = self.new_account("keyboard")
        page = self.open()
        page.go("/")
        page.wait_path("/")
        keys = ActionChains(page.driver)

        def active_id():
            return page.driver.execute_script("return document.activeElement.id")

        def focus_ring():
            return page.driver.execute_script(
                "const s = getComputedStyle(document.activeElement);"
                "return [s.outlineStyle, parseFloat(s.outlineWidth)]"
            )

        keys.send_keys(Keys.TAB).perform()
        self.assertEqual(active_id(), "signin-email", "the first Tab does not reach the email")
        style, width = focus_ring()
        self.assertNotEqual(style, "none", "the focused field shows no focus ring")
        self.assertGreaterEqual(width, 2)
        keys.send_keys(email).perform()
        keys.send_keys(Keys.TAB).perform()
        self.assertEqual(active_id(), "signin-password")
        keys.send_keys(PASSWORD).perform()
        keys.send_keys(Keys.TAB).perform()
        self.assertEqual(active_id(), "signin-submit")
        style, width = focus_ring()
        self.assertNotEqual(style, "none", "the focused button shows no focus ring")
        keys.send_keys(Keys.ENTER).perform()
        page.wait_account()
        self.assertEqual(page.wait_text("account-email"), email)

        # The first stop on /account is its "Sign out" button; Enter signs out.
        keys.send_keys(Keys.TAB).perform()
        self.assertEqual(active_id(), "sign-out")
        keys.send_keys(Keys.ENTER).perform()
        page.wait_path("/")
        self.assertIsNone(page.cookie(SESSION_COOKIE))

    def test_pages_fit_a_360_pixel_screen(self):
        email = self.new_account("narrow")
        # Another device with a long unbroken User-Agent, the widest thing the list shows.
        self.api.log_in(email, user_agent="NarrowScreenTest/" + "x" * 230)
        page = self.open(width=360, height=740)
        page.go("/")
        page.wait_path("/")
        inner = page.driver.execute_script("return window.innerWidth")
        if inner != 360:
            # Some window managers keep a minimum width; emulate the phone's viewport.
            page.driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": 360, "height": 740, "deviceScaleFactor": 1, "mobile": True},
            )
            page.go("/")
            page.wait_path("/")
        self.assertEqual(page.driver.execute_script("return window.innerWidth"), 360)
        self.assert_no_horizontal_scroll(page)

        page.sign_in(email)
        page.wait_account()
        self.assertEqual(len(page.wait_session_count(2)), 2)
        self.assert_no_horizontal_scroll(page)
        # Every button is on screen, not cut off at the right edge.
        overflow = page.driver.execute_script(
            "return Array.from(document.querySelectorAll('button, input:not([hidden])'))"
            ".filter(e => e.getBoundingClientRect().right > 360).map(e => e.id || e.textContent)"
        )
        self.assertEqual(overflow, [])

    def assert_no_horizontal_scroll(self, page):
        width = page.driver.execute_script("return document.documentElement.scrollWidth")
        self.assertLessEqual(width, 360, f"{page.path()} scrolls sideways: {width}px wide")

    def test_pages_load_without_errors_under_the_content_security_policy(self):
        answer = self.api.call("GET", "/")
        self.assertEqual(answer.status, 200)
        policy = answer.headers.get("Content-Security-Policy", "")
        self.assertIn("script-src 'self'", policy)
        self.assertIn("style-src 'self'", policy)

        email = self.new_account("csp")
        page = self.open()
        page.go("/")
        page.wait_path("/")
        # The stylesheet applied (it is a file, not inline): the forms are panels.
        border = page.driver.execute_script(
            "return getComputedStyle(document.querySelector('.panel')).borderTopStyle"
        )
        self.assertEqual(border, "solid", "app.css did not apply")
        page.sign_in(email)
        page.wait_account()
        time.sleep(0.3)
        self.assertEqual(page.console_errors(), [])
        # Nothing came from another origin.
        origins = page.driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        own = urllib.parse.urlsplit(page.base).netloc
        self.assertTrue(origins, "no resources were recorded")
        for url in origins:
            self.assertEqual(urllib.parse.urlsplit(url).netloc, own, url)
