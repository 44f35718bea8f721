//! The contract's credential cases: a request, and the answer every adapter must give.

use reqwest::Method;
use serde_json::Value;
use session_core::ErrorCode;
use session_core::error::{REALM, REALM_INVALID};
use session_core::request::csrf_value;

use crate::support::{COOKIE, Fixture};

/// One request and what it must get.
pub struct Case {
    /// What the case is, for failure messages.
    pub name: String,
    method: Method,
    headers: Vec<(&'static str, String)>,
    /// The answer it must get.
    pub expect: Expect,
}

/// What a case must get.
pub enum Expect {
    /// 200 with the fixture's user.
    Ok { user: String, email: String },
    /// The contract's refusal with this code.
    Refused(ErrorCode),
}

/// What a server answered, as far as the contract speaks of it: all of it must be
/// equal across adapters.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    retry_after: Option<String>,
    cache_control: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
}

impl Case {
    fn new(
        name: &str,
        method: Method,
        headers: Vec<(&'static str, String)>,
        expect: Expect,
    ) -> Self {
        Self {
            name: name.to_owned(),
            method,
            headers,
            expect,
        }
    }

    /// Sends the case to the server at `url`.
    pub async fn send(&self, url: &str) -> Answer {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut request = client.request(self.method.clone(), format!("{url}/me"));
        for (name, value) in &self.headers {
            request = request.header(*name, value.as_str());
        }
        let res = request.send().await.unwrap();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        Answer {
            status: res.status().as_u16(),
            www_authenticate: header("www-authenticate"),
            retry_after: header("retry-after"),
            cache_control: header("cache-control"),
            content_type: header("content-type"),
            body: res.bytes().await.unwrap().to_vec(),
        }
    }
}

impl Expect {
    fn ok(fixture: &Fixture) -> Self {
        Self::Ok {
            user: fixture.user.clone(),
            email: fixture.email.clone(),
        }
    }

    /// Checks `answer` against this expectation; `what` names the case.
    pub fn check(&self, answer: &Answer, what: &str) {
        match self {
            Self::Ok { user, email } => {
                assert_eq!(answer.status, 200, "{what}: {answer:?}");
                let body = answer.json();
                assert_eq!(body["userId"], user.as_str(), "{what}");
                assert_eq!(body["email"], email.as_str(), "{what}");
                assert!(
                    body["expiresAt"].as_str().is_some_and(|t| t.ends_with('Z')),
                    "{what}"
                );
                assert_eq!(answer.www_authenticate, None, "{what}");
            }
            Self::Refused(code) => {
                assert_eq!(answer.status, code.status(), "{what}: {answer:?}");
                let body = answer.json();
                assert_eq!(body["error"], code.as_str(), "{what}");
                assert_eq!(body["message"], code.message(), "{what}");
                assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{what}: {body}");
                assert_eq!(
                    answer.content_type.as_deref(),
                    Some("application/json"),
                    "{what}"
                );
                assert_eq!(answer.cache_control.as_deref(), Some("no-store"), "{what}");
                let www = match code {
                    ErrorCode::MissingAuthorization | ErrorCode::MissingUserId => Some(REALM),
                    ErrorCode::InvalidToken
                    | ErrorCode::SessionExpired
                    | ErrorCode::SessionNotFound
                    | ErrorCode::SessionRevoked => Some(REALM_INVALID),
                    _ => None,
                };
                assert_eq!(answer.www_authenticate.as_deref(), www, "{what}");
                let retry = (*code == ErrorCode::ServiceUnavailable).then_some("1");
                assert_eq!(answer.retry_after.as_deref(), retry, "{what}");
            }
        }
    }
}

fn authorization(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

fn cookies(token: &str, csrf: &str) -> (&'static str, String) {
    ("cookie", format!("{COOKIE}={token}; {COOKIE}-csrf={csrf}"))
}

fn browser(token: &str) -> (&'static str, String) {
    cookies(token, &csrf_value(token))
}

use ErrorCode::*;

/// The `Authorization` header's cases, seed mode off.
pub fn bearer(f: &Fixture) -> Vec<Case> {
    let refused = Expect::Refused;
    vec![
        Case::new(
            "no credential",
            Method::GET,
            vec![],
            refused(MissingAuthorization),
        ),
        Case::new(
            "empty Authorization",
            Method::GET,
            vec![("authorization", String::new())],
            refused(MissingUserId),
        ),
        Case::new(
            "a scheme alone",
            Method::GET,
            vec![("authorization", "Bearer".into())],
            refused(MissingUserId),
        ),
        Case::new(
            "malformed token",
            Method::GET,
            vec![authorization("not.a.jwt")],
            refused(InvalidToken),
        ),
        Case::new(
            "another scheme",
            Method::GET,
            vec![("authorization", format!("Basic {}", f.token))],
            refused(InvalidToken),
        ),
        Case::new(
            "a token and more",
            Method::GET,
            vec![("authorization", format!("Bearer {} x", f.token))],
            refused(InvalidToken),
        ),
        Case::new(
            "bad signature",
            Method::GET,
            vec![authorization(&f.foreign_token)],
            refused(InvalidToken),
        ),
        Case::new(
            "wrong algorithm",
            Method::GET,
            vec![authorization(&f.wrong_algorithm_token)],
            refused(InvalidToken),
        ),
        Case::new(
            "expired",
            Method::GET,
            vec![authorization(&f.expired_token)],
            refused(SessionExpired),
        ),
        Case::new(
            "revoked",
            Method::GET,
            vec![authorization(&f.revoked_token)],
            refused(SessionRevoked),
        ),
        Case::new(
            "not found",
            Method::GET,
            vec![authorization(&f.unknown_token)],
            refused(SessionNotFound),
        ),
        Case::new(
            "a user id with seed mode off",
            Method::GET,
            vec![("authorization", f.user.clone())],
            refused(InvalidToken),
        ),
        Case::new(
            "Authorization twice",
            Method::GET,
            vec![authorization(&f.token), authorization(&f.token)],
            refused(InvalidToken),
        ),
        Case::new(
            "live bearer",
            Method::GET,
            vec![authorization(&f.token)],
            Expect::ok(f),
        ),
        Case::new(
            "live bearer, lowercase scheme",
            Method::GET,
            vec![("authorization", format!("bearer {}", f.token))],
            Expect::ok(f),
        ),
        Case::new(
            "live bearer on POST needs no CSRF header",
            Method::POST,
            vec![authorization(&f.token)],
            Expect::ok(f),
        ),
        Case::new(
            "a bad Authorization beside a good cookie: Authorization wins",
            Method::GET,
            vec![authorization("not.a.jwt"), browser(&f.token)],
            refused(InvalidToken),
        ),
        Case::new(
            "a good Authorization beside another session's cookie, DELETE without CSRF",
            Method::DELETE,
            vec![authorization(&f.token), browser(&f.other_token)],
            Expect::ok(f),
        ),
    ]
}

/// Seed mode on: a bare userId is a credential, a bearer token still works.
pub fn seed(f: &Fixture) -> Vec<Case> {
    vec![
        Case::new(
            "bare user id",
            Method::GET,
            vec![("authorization", f.user.clone())],
            Expect::ok(f),
        ),
        Case::new(
            "user id after a scheme",
            Method::GET,
            vec![("authorization", format!("Token {}", f.user))],
            Expect::ok(f),
        ),
        Case::new(
            "uppercase user id",
            Method::GET,
            vec![("authorization", f.user.to_ascii_uppercase())],
            Expect::ok(f),
        ),
        Case::new(
            "bearer token",
            Method::GET,
            vec![authorization(&f.token)],
            Expect::ok(f),
        ),
        Case::new(
            "user id without a session",
            Method::GET,
            vec![("authorization", f.unknown_user.clone())],
            Expect::Refused(SessionNotFound),
        ),
        Case::new(
            "no credential",
            Method::GET,
            vec![],
            Expect::Refused(MissingAuthorization),
        ),
    ]
}

/// The session cookie and its CSRF rules.
pub fn cookie(f: &Fixture) -> Vec<Case> {
    let own = csrf_value(&f.token);
    let planted = csrf_value(&f.other_token);
    let with_header = |method: Method,
                       name: &str,
                       cookie: (&'static str, String),
                       header: Option<&str>,
                       expect| {
        let mut headers = vec![cookie];
        if let Some(value) = header {
            headers.push(("x-csrf-token", value.to_owned()));
        }
        Case::new(name, method, headers, expect)
    };
    let method = |name: &str| Method::from_bytes(name.as_bytes()).unwrap();
    vec![
        with_header(
            Method::GET,
            "cookie GET",
            browser(&f.token),
            None,
            Expect::ok(f),
        ),
        with_header(
            Method::OPTIONS,
            "cookie OPTIONS",
            browser(&f.token),
            None,
            Expect::ok(f),
        ),
        with_header(
            Method::POST,
            "cookie POST without X-CSRF-Token",
            browser(&f.token),
            None,
            Expect::Refused(CsrfFailed),
        ),
        with_header(
            Method::POST,
            "cookie POST with its CSRF value",
            browser(&f.token),
            Some(&own),
            Expect::ok(f),
        ),
        with_header(
            Method::PUT,
            "cookie PUT with a wrong value",
            browser(&f.token),
            Some("wrong"),
            Expect::Refused(CsrfFailed),
        ),
        with_header(
            Method::PATCH,
            "cookie PATCH with an empty value",
            browser(&f.token),
            Some(""),
            Expect::Refused(CsrfFailed),
        ),
        with_header(
            Method::DELETE,
            "cookie DELETE with another session's CSRF value in cookie and header",
            cookies(&f.token, &planted),
            Some(&planted),
            Expect::Refused(CsrfFailed),
        ),
        with_header(
            method("post"),
            "cookie with lowercase post",
            browser(&f.token),
            None,
            Expect::Refused(CsrfFailed),
        ),
        with_header(
            method("PROPPATCH"),
            "cookie PROPPATCH",
            browser(&f.token),
            None,
            Expect::Refused(CsrfFailed),
        ),
        with_header(
            method("PROPPATCH"),
            "cookie PROPPATCH with its CSRF value",
            browser(&f.token),
            Some(&own),
            Expect::ok(f),
        ),
        Case::new(
            "X-CSRF-Token twice",
            Method::POST,
            vec![
                browser(&f.token),
                ("x-csrf-token", own.clone()),
                ("x-csrf-token", own.clone()),
            ],
            Expect::Refused(CsrfFailed),
        ),
        Case::new(
            "the session cookie twice",
            Method::GET,
            vec![(
                "cookie",
                format!("{COOKIE}={}; {COOKIE}={}", f.token, f.other_token),
            )],
            Expect::Refused(InvalidToken),
        ),
        Case::new(
            "the session cookie twice, in two Cookie lines",
            Method::GET,
            vec![
                ("cookie", format!("{COOKIE}={}", f.token)),
                ("cookie", format!("{COOKIE}={}", f.token)),
            ],
            Expect::Refused(InvalidToken),
        ),
        Case::new(
            "an empty session cookie",
            Method::GET,
            vec![("cookie", format!("{COOKIE}="))],
            Expect::Refused(MissingUserId),
        ),
        with_header(
            Method::GET,
            "a revoked session's cookie",
            browser(&f.revoked_token),
            None,
            Expect::Refused(SessionRevoked),
        ),
        with_header(
            Method::POST,
            "a dead session's cookie on POST without CSRF: the session's refusal first",
            browser(&f.unknown_token),
            None,
            Expect::Refused(SessionNotFound),
        ),
        with_header(
            Method::GET,
            "an expired session's cookie",
            browser(&f.expired_token),
            None,
            Expect::Refused(SessionExpired),
        ),
        Case::new(
            "another cookie only",
            Method::GET,
            vec![("cookie", "theme=dark".into())],
            Expect::Refused(MissingAuthorization),
        ),
    ]
}

/// A service that takes no session cookie.
pub fn no_cookies(f: &Fixture) -> Vec<Case> {
    vec![
        Case::new(
            "cookie only",
            Method::GET,
            vec![browser(&f.token)],
            Expect::Refused(MissingAuthorization),
        ),
        Case::new(
            "bearer",
            Method::GET,
            vec![authorization(&f.token)],
            Expect::ok(f),
        ),
    ]
}

/// Redis does not answer: 503 with `Retry-After` for what needs it, never a 401 or 500.
pub fn redis_down(f: &Fixture) -> Vec<Case> {
    vec![
        Case::new(
            "a valid token",
            Method::GET,
            vec![authorization(&f.token)],
            Expect::Refused(ServiceUnavailable),
        ),
        Case::new(
            "a valid cookie",
            Method::GET,
            vec![browser(&f.token)],
            Expect::Refused(ServiceUnavailable),
        ),
        Case::new(
            "a malformed token needs no Redis",
            Method::GET,
            vec![authorization("not.a.jwt")],
            Expect::Refused(InvalidToken),
        ),
        Case::new(
            "an expired token needs no Redis",
            Method::GET,
            vec![authorization(&f.expired_token)],
            Expect::Refused(SessionExpired),
        ),
    ]
}
