"""Headless Chromium for the page tests: one WebDriver per simulated browser (each its
own cookie jar), helpers that read the pages as a person would, and a screenshot of
every browser a test opened, saved under target/screenshots/<test-name>.png.

Settings come from the environment that scripts/browser-tests.sh sets:
BROWSER_BASE_URL (the auth-service, http://localhost:<port>), BROWSER_IDLE_BASE_URL (a
second auth-service with a short idle timeout), BROWSER_IDLE_TIMEOUT_SECONDS and
BROWSER_SCREENSHOT_DIR.
"""

import json
import os
import unittest
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from api import PASSWORD, Api, unique_email

CHROMIUM = os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BROWSER_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOT_DIR = os.environ.get("BROWSER_SCREENSHOT_DIR", "target/screenshots")
WAIT_SECONDS = 10

# The CSRF cookie's name is the session cookie's name with "-csrf".
SESSION_COOKIE = "__Host-session"
CSRF_COOKIE = "__Host-session-csrf"


def base_url():
    url = os.environ.get("BROWSER_BASE_URL")
    if not url:
        raise RuntimeError("BROWSER_BASE_URL is not set: run scripts/browser-tests.sh")
    return url.rstrip("/")


def new_driver(user_agent=None, width=1100, height=900):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-sync",
        "--password-store=basic",
        "--lang=en-US",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    if user_agent is not None:
        options.add_argument(f"--user-agent={user_agent}")
    # Leave an alert open so that a test sees it, instead of WebDriver dismissing it.
    options.unhandled_prompt_behavior = "ignore"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER)
    return webdriver.Chrome(options=options, service=service)


class Page:
    """One browser (one cookie jar) looking at the auth-service's pages."""

    def __init__(self, driver, base):
        self.driver = driver
        self.base = base

    # -- navigation --

    def go(self, path):
        self.driver.get(self.base + path)

    def path(self):
        return urllib.parse.urlsplit(self.driver.current_url).path

    def wait(self, condition, message, seconds=WAIT_SECONDS):
        return WebDriverWait(self.driver, seconds, poll_frequency=0.05).until(
            lambda _driver: condition(), message
        )

    def wait_path(self, path, seconds=WAIT_SECONDS):
        self.wait(
            lambda: self.path() == path and self.ready_state() == "complete",
            f"expected to land on {path}",
            seconds,
        )

    def ready_state(self):
        return self.driver.execute_script("return document.readyState")

    # -- reading the page --

    def find(self, element_id):
        return self.driver.find_element(By.ID, element_id)

    def text(self, element_id):
        return self.find(element_id).text

    def wait_text(self, element_id, seconds=WAIT_SECONDS):
        """Waits until the element shows some text, and returns it."""
        self.wait(lambda: self.text(element_id).strip() != "", f"#{element_id} stays empty", seconds)
        return self.text(element_id).strip()

    def assert_no_alert(self):
        try:
            alert = self.driver.switch_to.alert
        except NoAlertPresentException:
            return
        text = alert.text
        alert.dismiss()
        raise AssertionError(f"an alert opened: {text!r}")

    def console_errors(self):
        """Console messages at SEVERE level (CSP violations, failed loads, script errors)."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry.get("level") == "SEVERE" and "favicon.ico" not in entry["message"]
        ]

    # -- the sign-in page --

    def fill(self, element_id, value):
        field = self.find(element_id)
        field.clear()
        field.send_keys(value)

    def sign_in(self, email, password=PASSWORD):
        self.go("/")
        self.wait_path("/")
        self.fill("signin-email", email)
        self.fill("signin-password", password)
        self.find("signin-submit").click()

    def sign_up(self, email, password=PASSWORD):
        self.go("/")
        self.wait_path("/")
        self.fill("signup-email", email)
        self.fill("signup-password", password)
        self.find("signup-submit").click()

    # -- the account page --

    def wait_account(self):
        """Waits until /account has loaded its data from the server."""
        self.wait_path("/account")
        self.wait(
            lambda: self.driver.execute_script("return document.body.dataset.ready") == "true",
            "the account page never finished loading",
        )

    def sessions(self):
        """The session list as shown: id, device, raw User-Agent, marked current or not."""
        return self.driver.execute_script(
            """
            return Array.from(document.querySelectorAll('#sessions-list > li')).map(li => ({
                id: li.dataset.sessionId,
                device: li.querySelector('.session-device').textContent,
                agent: li.querySelector('.session-agent').textContent,
                ip: li.querySelector('.fact-ip dd').textContent,
                current: !!li.querySelector('.badge'),
                badge: li.querySelector('.badge') ? li.querySelector('.badge').textContent : null,
                created: li.querySelector('.fact-created time').getAttribute('datetime'),
                expires: li.querySelector('.fact-expires time').getAttribute('datetime'),
                button: li.querySelector('button').textContent,
            }));
            """
        )

    def wait_session_count(self, count):
        self.wait(
            lambda: len(self.sessions()) == count,
            f"the page never listed {count} session(s)",
        )
        return self.sessions()

    def sign_out_button(self, session_id):
        return self.driver.find_element(
            By.CSS_SELECTOR, f'#sessions-list > li[data-session-id="{session_id}"] button'
        )

    # -- cookies and requests from the page --

    def cookie(self, name):
        return self.driver.get_cookie(name)

    def fetch(self, method, path, headers=None, body=None):
        """fetch() from the page's own origin, with its cookies; returns status and body."""
        return self.driver.execute_async_script(
            """
            const [method, path, headers, body, done] = arguments;
            const init = {method, headers, credentials: 'same-origin'};
            if (body !== null) init.body = body;
            fetch(path, init)
              .then(r => r.text().then(text => done({status: r.status, text})))
              .catch(e => done({status: -1, text: String(e)}));
            """,
            method,
            path,
            headers or {},
            json.dumps(body) if body is not None else None,
        )


class BrowserTestCase(unittest.TestCase):
    """Opens browsers on demand; saves a screenshot of each and quits it after the test."""

    base = None

    def setUp(self):
        self.base = self.base or base_url()
        self.api = Api(self.base)
        self._pages = []

    def open(self, label="", user_agent=None, width=1100, height=900, base=None):
        driver = new_driver(user_agent=user_agent, width=width, height=height)
        page = Page(driver, (base or self.base).rstrip("/"))
        self._pages.append((label, page))
        self.addCleanup(self._close, label, page)
        return page

    def snap(self, page, label):
        """A screenshot mid-test: target/screenshots/<test-name>-<label>.png."""
        os.makedirs(SCREENSHOT_DIR, exist_ok=True)
        name = f"{self._testMethodName}-{label}.png"
        page.driver.save_screenshot(os.path.join(SCREENSHOT_DIR, name))

    def _close(self, label, page):
        os.makedirs(SCREENSHOT_DIR, exist_ok=True)
        name = self._testMethodName + (f"-{label}" if label else "")
        try:
            page.driver.save_screenshot(os.path.join(SCREENSHOT_DIR, f"{name}.png"))
        finally:
            page.driver.quit()

    def new_account(self, label):
        email = unique_email(label)
        self.api.sign_up(email)
        return email

    def fetch_json(self, page, method, path, headers=None, body=None):
        answer = page.fetch(method, path, headers, body)
        try:
            parsed = json.loads(answer["text"]) if answer["text"] else None
        except ValueError:
            parsed = {"raw": answer["text"]}
        return answer["status"], parsed
