// The session store's pages: sign in / sign up (`/`), the account page (`/account`),
// and the pages mails link to (`/reset`, `/welcome`). One script for all, chosen by
// <body data-page>. It talks to the JSON endpoints with the session cookie (HttpOnly,
// never seen here) and sends the CSRF cookie's value in X-CSRF-Token on every unsafe
// request. Everything the server says is rendered with
// textContent and createElement, never as HTML.
(function () {
  "use strict";

  /** The CSRF cookie's default name: `<session.cookie.name>-csrf`. */
  var CSRF_COOKIE = "__Host-session-csrf";
  /** Refresh at least this often while the account page is open (milliseconds). */
  var REFRESH_MAX_MS = 30000;
  /** ...and never more often than this. */
  var REFRESH_MIN_MS = 1000;
  var NETWORK_MESSAGE = "Could not reach the server. Check your connection and try again.";

  // ---- Talking to the server ------------------------------------------------------

  /** The CSRF cookie's value; another `*-csrf` cookie when the name was configured. */
  function csrfToken() {
    var pairs = document.cookie ? document.cookie.split(";") : [];
    var fallback = null;
    for (var i = 0; i < pairs.length; i++) {
      var pair = pairs[i].trim();
      var eq = pair.indexOf("=");
      if (eq < 0) continue;
      var name = pair.slice(0, eq);
      var value = pair.slice(eq + 1);
      if (name === CSRF_COOKIE) return value;
      if (fallback === null && /-csrf$/.test(name) && value) fallback = value;
    }
    return fallback;
  }

  /** A refusal from the server (or no answer at all: status 0). */
  function ApiError(status, code, message, retryAfter) {
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.message = message;
    this.retryAfter = retryAfter;
  }
  ApiError.prototype = Object.create(Error.prototype);
  ApiError.prototype.constructor = ApiError;

  /** True when the session is gone: a 401 that is not a wrong password. */
  function sessionGone(err) {
    return err instanceof ApiError && err.status === 401 && err.code !== "invalid_credentials";
  }

  /**
   * Calls one JSON endpoint. Resolves with the parsed body (null for 204); rejects with
   * an ApiError carrying the contract's `error` code and human `message`.
   */
  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    var init = { method: method, headers: headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET" && method !== "HEAD") {
      var token = csrfToken();
      if (token) headers["X-CSRF-Token"] = token;
    }
    return fetch(path, init).then(
      function (response) {
        if (response.status === 204) return null;
        return response.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (e) {
            data = null;
          }
          if (response.ok) return data;
          var code = data && typeof data.error === "string" ? data.error : "http_" + response.status;
          var message = data && typeof data.message === "string" && data.message
            ? data.message
            : "The server answered " + response.status + ". Please try again.";
          throw new ApiError(response.status, code, message, response.headers.get("Retry-After"));
        });
      },
      function () {
        throw new ApiError(0, "network_error", NETWORK_MESSAGE, null);
      }
    );
  }

  /** Leaves for the sign-in page (the session ended or was never there). */
  function toSignIn() {
    window.location.replace("/");
  }

  // ---- Small DOM helpers ------------------------------------------------------------

  function byId(id) {
    return document.getElementById(id);
  }

  /** An element with a class and text (text set with textContent, never parsed). */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function say(id, text) {
    var node = byId(id);
    if (node) node.textContent = text || "";
  }

  /** The text for an error, with the wait the server asked for when it throttled. */
  function describeError(err) {
    if (!(err instanceof ApiError)) {
      if (window.console) window.console.error(err);
      return "Something went wrong. Please try again.";
    }
    var text = err.message;
    if (err.status === 429 && err.retryAfter && /^\d+$/.test(err.retryAfter)) {
      text += " (try again in " + waitText(Number(err.retryAfter)) + ")";
    }
    return text;
  }

  function waitText(seconds) {
    if (seconds < 90) return seconds + (seconds === 1 ? " second" : " seconds");
    var minutes = Math.ceil(seconds / 60);
    return minutes + " minutes";
  }

  /** Marks fields invalid (aria-invalid) and focuses the first; clears the others. */
  function markInvalid(fields, invalid) {
    var first = null;
    fields.forEach(function (field) {
      var bad = invalid.indexOf(field) >= 0;
      if (bad) {
        field.setAttribute("aria-invalid", "true");
        if (!first) first = field;
      } else {
        field.removeAttribute("aria-invalid");
      }
    });
    if (first) first.focus();
  }

  // ---- Times ------------------------------------------------------------------------

  var dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  var relativeFormat = typeof Intl.RelativeTimeFormat === "function"
    ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" })
    : null;

  function parseTime(iso) {
    var date = new Date(iso);
    return isNaN(date.getTime()) ? null : date;
  }

  /** Fills a <time> element: machine-readable datetime, local human text. */
  function showTime(node, iso) {
    if (!node) return;
    var date = typeof iso === "string" ? parseTime(iso) : null;
    if (!date) {
      node.removeAttribute("datetime");
      node.textContent = "unknown";
      return;
    }
    node.setAttribute("datetime", iso);
    node.textContent = dateFormat.format(date);
  }

  /** "in 29 minutes", "2 hours ago". */
  function relativeText(iso) {
    var date = typeof iso === "string" ? parseTime(iso) : null;
    if (!date || !relativeFormat) return "";
    var seconds = Math.round((date.getTime() - Date.now()) / 1000);
    var abs = Math.abs(seconds);
    if (abs < 60) return relativeFormat.format(seconds, "second");
    if (abs < 3600) return relativeFormat.format(Math.round(seconds / 60), "minute");
    if (abs < 86400 * 2) return relativeFormat.format(Math.round(seconds / 3600), "hour");
    return relativeFormat.format(Math.round(seconds / 86400), "day");
  }

  function timeNode(iso) {
    var node = el("time");
    showTime(node, iso);
    return node;
  }

  // ---- User-Agent, summarised for people ---------------------------------------------

  /** "Chrome on Linux" from a User-Agent; the raw string is shown beside it. */
  function deviceName(userAgent) {
    if (!userAgent) return "Unknown device";
    var ua = String(userAgent);
    var browser = null;
    if (/Edg(e|A|iOS)?\//.test(ua)) browser = "Edge";
    else if (/OPR\/|Opera/.test(ua)) browser = "Opera";
    else if (/Firefox\/|FxiOS\//.test(ua)) browser = "Firefox";
    else if (/Chromium\//.test(ua)) browser = "Chromium";
    else if (/Chrome\/|CriOS\//.test(ua)) browser = "Chrome";
    else if (/Safari\//.test(ua) && /Version\//.test(ua)) browser = "Safari";
    else if (/^curl\//.test(ua)) browser = "curl";
    var os = null;
    if (/iPhone|iPad|iPod/.test(ua)) os = "iOS";
    else if (/Android/.test(ua)) os = "Android";
    else if (/Windows/.test(ua)) os = "Windows";
    else if (/CrOS/.test(ua)) os = "ChromeOS";
    else if (/Mac OS X|Macintosh/.test(ua)) os = "macOS";
    else if (/Linux/.test(ua)) os = "Linux";
    if (browser && os) return browser + " on " + os;
    if (browser) return browser;
    if (os) return "A browser on " + os;
    return "Unknown device";
  }

  // ---- The sign-in page --------------------------------------------------------------

  function logIn(email, password) {
    return api("POST", "/login", { email: email, password: password, cookie: true });
  }

  function initIndex() {
    var signinForm = byId("signin-form");
    var signupForm = byId("signup-form");

    signinForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var email = byId("signin-email");
      var password = byId("signin-password");
      var button = byId("signin-submit");
      say("signin-error", "");
      var missing = [email, password].filter(function (f) { return !f.value; });
      markInvalid([email, password], missing);
      if (missing.length) {
        say("signin-error", "Enter your email and password.");
        return;
      }
      button.disabled = true;
      logIn(email.value.trim(), password.value).then(
        function () {
          window.location.assign("/account");
        },
        function (err) {
          button.disabled = false;
          say("signin-error", describeError(err));
          if (err instanceof ApiError && err.code === "invalid_credentials") {
            password.select();
          }
        }
      );
    });

    signupForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var email = byId("signup-email");
      var password = byId("signup-password");
      var button = byId("signup-submit");
      say("signup-error", "");
      say("signup-status", "");
      var missing = [email, password].filter(function (f) { return !f.value; });
      markInvalid([email, password], missing);
      if (missing.length) {
        say("signup-error", "Enter an email and a password.");
        return;
      }
      button.disabled = true;
      var address = email.value.trim();
      var created = false;
      api("POST", "/signup", { email: address, password: password.value })
        .then(function () {
          created = true;
          say("signup-status", "Account created. Signing you in…");
          return logIn(address, password.value);
        })
        .then(
          function () {
            window.location.assign("/account");
          },
          function (err) {
            button.disabled = false;
            say("signup-status", "");
            if (created) {
              say("signup-error", "Your account was created, but signing in failed: " +
                describeError(err) + " Sign in with the form on this page.");
              byId("signin-email").value = address;
              return;
            }
            say("signup-error", describeError(err));
            if (err instanceof ApiError) {
              if (err.code === "invalid_email" || err.code === "email_taken") markInvalid([email, password], [email]);
              else if (err.code === "weak_password") markInvalid([email, password], [password]);
            }
          }
        );
    });
  }

  // ---- Recovery: "Forgot your password?", /reset, /welcome ----------------------------

  var FORGOT_SENT = "If an account has this address, a mail with a link to set a new password is on its way. The link works for a limited time.";

  function initForgot() {
    var form = byId("forgot-form");
    if (!form) return;
    var details = byId("forgot");
    details.addEventListener("toggle", function () {
      if (!details.open) return;
      var email = byId("forgot-email");
      if (!email.value) email.value = byId("signin-email").value.trim();
      email.focus();
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var email = byId("forgot-email");
      var button = byId("forgot-submit");
      say("forgot-error", "");
      say("forgot-status", "");
      markInvalid([email], email.value.trim() ? [] : [email]);
      if (!email.value.trim()) {
        say("forgot-error", "Enter the email of your account.");
        return;
      }
      button.disabled = true;
      api("POST", "/password/forgot", { email: email.value.trim() }).then(
        function () {
          button.disabled = false;
          say("forgot-status", FORGOT_SENT);
        },
        function (err) {
          button.disabled = false;
          say("forgot-error", describeError(err));
        }
      );
    });
  }

  /** The token a mail's link carries in the fragment (#token=...), then forgets it. */
  function fragmentToken() {
    var match = /(?:^#|&)token=([A-Za-z0-9_-]*)/.exec(window.location.hash || "");
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname);
    }
    return match ? match[1] : "";
  }

  function initReset() {
    var token = fragmentToken();
    var form = byId("reset-form");
    var password = byId("reset-password");
    var confirm = byId("reset-confirm");
    var button = byId("reset-submit");
    if (!token) {
      say("reset-error", "This page needs the link from your reset mail. Ask for a new one with “Forgot your password?” on the sign-in page.");
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      say("reset-error", "");
      var missing = [password, confirm].filter(function (f) { return !f.value; });
      markInvalid([password, confirm], missing);
      if (missing.length) {
        say("reset-error", "Enter the new password twice.");
        return;
      }
      if (password.value !== confirm.value) {
        markInvalid([password, confirm], [confirm]);
        say("reset-error", "The two passwords differ.");
        return;
      }
      button.disabled = true;
      api("POST", "/password/reset", { token: token, newPassword: password.value }).then(
        function () {
          form.hidden = true;
          byId("reset-done").hidden = false;
          say("reset-status", "Your password is changed and every session of your account has ended. Sign in with the new password.");
          byId("reset-sign-in").focus();
        },
        function (err) {
          button.disabled = false;
          say("reset-error", describeError(err));
          if (err instanceof ApiError && err.code === "weak_password") markInvalid([password, confirm], [password]);
        }
      );
    });
    password.focus();
  }

  function initWelcome() {
    var token = fragmentToken();
    var resend = byId("resend-form");
    var failed = function (text) {
      say("welcome-status", "");
      say("welcome-error", text);
      resend.hidden = false;
    };
    if (!token) {
      failed("This page needs the link from your confirmation mail.");
    } else {
      api("POST", "/email/verify", { token: token }).then(
        function () {
          say("welcome-status", "Your email address is confirmed. You can sign in now.");
          byId("welcome-sign-in").focus();
        },
        function (err) {
          failed(describeError(err));
        }
      );
    }
    resend.addEventListener("submit", function (event) {
      event.preventDefault();
      var email = byId("resend-email");
      var button = byId("resend-submit");
      if (!email.value.trim()) {
        markInvalid([email], [email]);
        return;
      }
      markInvalid([email], []);
      button.disabled = true;
      api("POST", "/email/verify/resend", { email: email.value.trim() }).then(
        function () {
          button.disabled = false;
          say("resend-status", "If this address has an account waiting for confirmation, a new link is on its way.");
        },
        function (err) {
          button.disabled = false;
          say("resend-status", describeError(err));
        }
      );
    });
  }

  // ---- The account page --------------------------------------------------------------

  var refreshTimer = null;

  /** True when the session ends at its idle deadline before its absolute end. */
  function idleFirst(expiresAt, absoluteExpiresAt) {
    var idleEnd = parseTime(expiresAt);
    var absoluteEnd = parseTime(absoluteExpiresAt);
    return !!idleEnd && (!absoluteEnd || idleEnd.getTime() < absoluteEnd.getTime() - 1000);
  }

  /**
   * Shows this browser's session: when it ends if unused (only while that comes before
   * the absolute end, i.e. when the service has an idle timeout), the absolute end, and
   * when it started.
   */
  function showSession(info) {
    var idle = idleFirst(info.expiresAt, info.absoluteExpiresAt);
    byId("session-expires-row").hidden = !idle;
    say("session-absolute-label", idle ? "Ends at the latest" : "Ends");
    showTime(byId("session-expires"), info.expiresAt);
    showTime(byId("session-absolute"), info.absoluteExpiresAt);
    if (info.issuedAt) showTime(byId("session-issued"), info.issuedAt);
    byId("session-expires").dataset.iso = info.expiresAt || "";
    byId("session-absolute").dataset.iso = info.absoluteExpiresAt || "";
    updateRelativeTimes();
  }

  function updateRelativeTimes() {
    say("session-expires-relative", bracket(relativeText(byId("session-expires").dataset.iso)));
    say("session-absolute-relative", bracket(relativeText(byId("session-absolute").dataset.iso)));
  }

  function bracket(text) {
    return text ? "(" + text + ")" : "";
  }

  /** Handles a failed call on the account page: a lost session leaves, anything else shows. */
  function failed(errorId) {
    return function (err) {
      if (sessionGone(err)) {
        toSignIn();
        return;
      }
      say(errorId, describeError(err));
    };
  }

  function loadSession() {
    return api("GET", "/session").then(function (info) {
      say("account-email", info.email);
      byId("password-username").value = info.email || "";
      showSession(info);
      return info;
    });
  }

  function loadSessions() {
    return api("GET", "/sessions").then(function (data) {
      renderSessions(data && Array.isArray(data.sessions) ? data.sessions : []);
    });
  }

  function renderSessions(sessions) {
    var list = byId("sessions-list");
    var items = sessions.map(sessionItem);
    list.replaceChildren.apply(list, items);
    var others = sessions.filter(function (s) { return !s.current; }).length;
    say(
      "sessions-summary",
      sessions.length === 1
        ? "Signed in on this browser only."
        : "Signed in on " + sessions.length + " devices or browsers."
    );
    byId("sign-out-others").disabled = others === 0;
  }

  function sessionItem(session) {
    var item = el("li", session.current ? "session session-current" : "session");
    item.dataset.sessionId = String(session.sessionId);
    var nameId = "session-device-" + String(session.sessionId).replace(/[^A-Za-z0-9_-]/g, "");

    var head = el("div", "session-head");
    var name = el("h3", "session-device", deviceName(session.userAgent));
    name.id = nameId;
    head.appendChild(name);
    if (session.current) head.appendChild(el("span", "badge", "This browser"));
    item.appendChild(head);

    item.appendChild(
      el("p", "session-agent", session.userAgent ? session.userAgent : "No User-Agent was sent.")
    );

    var facts = el("dl", "facts");
    facts.appendChild(fact("IP address", document.createTextNode(session.ip || "unknown"), "fact-ip"));
    facts.appendChild(fact("Signed in", timeNode(session.createdAt), "fact-created"));
    var idle = idleFirst(session.expiresAt, session.absoluteExpiresAt);
    var expiresRow = fact("Ends if not used", timeNode(session.expiresAt), "fact-expires");
    expiresRow.hidden = !idle;
    facts.appendChild(expiresRow);
    facts.appendChild(fact(idle ? "Ends at the latest" : "Ends", timeNode(session.absoluteExpiresAt), "fact-absolute"));
    item.appendChild(facts);

    var button = el("button", "button session-sign-out", session.current ? "Sign out of this browser" : "Sign out");
    button.type = "button";
    button.setAttribute("aria-describedby", nameId);
    button.addEventListener("click", function () {
      if (session.current) signOut();
      else endSession(session, button);
    });
    item.appendChild(button);
    return item;
  }

  function fact(label, valueNode, className) {
    var row = el("div", className);
    row.appendChild(el("dt", null, label));
    var dd = el("dd");
    dd.appendChild(valueNode);
    row.appendChild(dd);
    return row;
  }

  function endSession(session, button) {
    say("sessions-error", "");
    say("sessions-status", "");
    button.disabled = true;
    api("DELETE", "/sessions/" + encodeURIComponent(session.sessionId))
      .then(
        function () {
          say("sessions-status", "Signed out of " + deviceName(session.userAgent) + ".");
        },
        function (err) {
          if (err instanceof ApiError && err.status === 404) {
            say("sessions-status", "That session had already ended.");
            return;
          }
          throw err;
        }
      )
      .then(function () {
        byId("sessions-title").focus();
        return loadSessions();
      })
      .catch(function (err) {
        button.disabled = false;
        failed("sessions-error")(err);
      });
  }

  function signOutOthers() {
    var button = byId("sign-out-others");
    say("sessions-error", "");
    say("sessions-status", "");
    button.disabled = true;
    api("POST", "/logout/others")
      .then(function () {
        say("sessions-status", "Signed out everywhere else.");
        return loadSessions();
      })
      .catch(function (err) {
        button.disabled = false;
        failed("sessions-error")(err);
      });
  }

  function signOut() {
    say("account-error", "");
    stopRefresh();
    api("POST", "/logout").then(toSignIn, function (err) {
      if (sessionGone(err)) {
        toSignIn();
        return;
      }
      scheduleRefresh(REFRESH_MAX_MS);
      say("account-error", describeError(err));
    });
  }

  function changePassword(event) {
    event.preventDefault();
    var current = byId("current-password");
    var next = byId("new-password");
    var button = byId("password-submit");
    say("password-error", "");
    say("password-status", "");
    var missing = [current, next].filter(function (f) { return !f.value; });
    markInvalid([current, next], missing);
    if (missing.length) {
      say("password-error", "Enter your current password and a new one.");
      return;
    }
    button.disabled = true;
    api("POST", "/password", { currentPassword: current.value, newPassword: next.value })
      .then(function () {
        button.disabled = false;
        current.value = "";
        next.value = "";
        say("password-status", "Password changed. Every other session has been signed out.");
        return loadSessions();
      })
      .catch(function (err) {
        button.disabled = false;
        if (sessionGone(err)) {
          toSignIn();
          return;
        }
        say("password-error", describeError(err));
        if (err instanceof ApiError) {
          if (err.code === "invalid_credentials") markInvalid([current, next], [current]);
          else if (err.code === "weak_password") markInvalid([current, next], [next]);
        }
      });
  }

  // Keeping the session alive: POST /session/refresh at a third of the idle time left
  // (at most every 30 s), then show the new ends and the current list.

  function stopRefresh() {
    if (refreshTimer !== null) window.clearTimeout(refreshTimer);
    refreshTimer = null;
  }

  function scheduleRefresh(delay) {
    stopRefresh();
    refreshTimer = window.setTimeout(refresh, delay);
  }

  /** How long until the next refresh, from the session's ends as just answered. */
  function nextDelay(info) {
    if (!idleFirst(info.expiresAt, info.absoluteExpiresAt)) return REFRESH_MAX_MS;
    var left = parseTime(info.expiresAt).getTime() - Date.now();
    return Math.max(REFRESH_MIN_MS, Math.min(REFRESH_MAX_MS, Math.floor(left / 3)));
  }

  function refresh() {
    refreshTimer = null;
    api("POST", "/session/refresh")
      .then(function (info) {
        say("account-error", "");
        showSession(info);
        scheduleRefresh(nextDelay(info));
        return loadSessions();
      })
      .catch(function (err) {
        if (sessionGone(err)) {
          toSignIn();
          return;
        }
        // The server did not answer or refused for another reason: try again soon.
        say("account-error", describeError(err));
        if (refreshTimer === null) scheduleRefresh(5000);
      });
  }

  function initAccount() {
    byId("sign-out").addEventListener("click", signOut);
    byId("sign-out-others").addEventListener("click", signOutOthers);
    byId("password-form").addEventListener("submit", changePassword);

    // Back to a page kept in the back/forward cache: check the session again.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted && document.body.dataset.ready === "true") refresh();
    });
    // A tab coming back to the front refreshes at once (hidden tabs' timers are slowed).
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && document.body.dataset.ready === "true") refresh();
    });
    window.setInterval(updateRelativeTimes, 15000);

    loadAll();
  }

  /** The first load: who, this session, every session; tried again until it works. */
  function loadAll() {
    Promise.all([loadSession(), loadSessions()])
      .then(function (results) {
        say("account-error", "");
        document.body.dataset.ready = "true";
        scheduleRefresh(nextDelay(results[0]));
      })
      .catch(function (err) {
        if (sessionGone(err)) {
          toSignIn();
          return;
        }
        say("account-error", describeError(err));
        window.setTimeout(loadAll, 5000);
      });
  }

  function start() {
    var page = document.body.dataset.page;
    if (page === "index") {
      initIndex();
      initForgot();
    } else if (page === "account") initAccount();
    else if (page === "reset") initReset();
    else if (page === "welcome") initWelcome();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
