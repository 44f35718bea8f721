//! What a request presents, read the same way by every web adapter: its one
//! `Authorization` header, else the session as a browser cookie `<name>` (HttpOnly, the
//! token) with its CSRF cookie `<name>-csrf` (readable by the page's script).
//!
//! A request without `Authorization` is authenticated by the session cookie; a
//! cookie-authenticated request with any method but `GET`, `HEAD`, `OPTIONS` and
//! `TRACE` (or with no method that parses) must carry `X-CSRF-Token` equal to the CSRF
//! cookie, and that value must be the one derived from the session's own token
//! ([`csrf_value`]), else `403 csrf_failed`. `Authorization` wins when both are
//! present, and a bearer request never needs the CSRF header. A request that carries
//! the session cookie twice is `401 invalid_token`.
//!
//! An adapter implements [`RequestHeaders`] for its framework's header map and calls
//! [`present`] before it awaits anything; the answer goes to
//! [`SessionValidator::authenticate`](crate::SessionValidator::authenticate).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::credential::{self, Credential, constant_time_eq};
use crate::error::AuthError;
use crate::settings::CookieSettings;

/// The `Authorization` header's name.
pub const AUTHORIZATION: &str = "authorization";
/// The `Cookie` header's name.
pub const COOKIE: &str = "cookie";
/// The header a cookie-authenticated unsafe request carries.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A request's headers, as a web framework holds them.
pub trait RequestHeaders {
    /// Every value of header `name` (lowercase), in the order received.
    fn values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> + 'a;

    /// Whether the request has header `name` at all.
    fn has(&self, name: &'static str) -> bool {
        self.values(name).next().is_some()
    }
}

/// The session cookie's policy (`session.cookie`): its name and its CSRF cookie's.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    name: String,
    csrf_name: String,
}

impl CookiePolicy {
    /// The policy of `session.cookie`, or none when it is off.
    pub fn from_settings(settings: &CookieSettings) -> Option<Self> {
        settings.enabled.then(|| Self {
            name: settings.name.clone(),
            csrf_name: format!("{}-csrf", settings.name),
        })
    }

    /// The session cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CSRF cookie's name.
    pub fn csrf_name(&self) -> &str {
        &self.csrf_name
    }

    /// The one value of cookie `name`; none when absent, `invalid_token` when sent
    /// twice (a second cookie of that name is someone's attempt to plant one).
    pub fn single(
        headers: &(impl RequestHeaders + ?Sized),
        name: &str,
    ) -> Result<Option<String>, AuthError> {
        let mut found = None;
        for value in headers.values(COOKIE) {
            let text = std::str::from_utf8(value).map_err(|_| AuthError::InvalidToken)?;
            for pair in text.split(';') {
                let Some((key, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                if key == name {
                    if found.is_some() {
                        return Err(AuthError::InvalidToken);
                    }
                    found = Some(value.trim_matches('"').to_owned());
                }
            }
        }
        Ok(found)
    }

    /// The two `Set-Cookie` values that sign a browser in with `token` for `max_age`
    /// seconds: the session cookie and its CSRF cookie (the value bound to `token`).
    pub fn set(&self, token: &str, max_age: i64) -> [String; 2] {
        [
            set_cookie(&self.name, token, max_age, true),
            set_cookie(&self.csrf_name, &csrf_value(token), max_age, false),
        ]
    }

    /// The two `Set-Cookie` values that clear both cookies.
    pub fn clear(&self) -> [String; 2] {
        [
            set_cookie(&self.name, "", 0, true),
            set_cookie(&self.csrf_name, "", 0, false),
        ]
    }

    /// For a cookie-authenticated request, both cookies set again with `max_age` (the
    /// session's idle deadline moved), the token as it is; none for a request
    /// authenticated otherwise.
    pub fn renew(
        &self,
        headers: &(impl RequestHeaders + ?Sized),
        max_age: i64,
    ) -> Option<[String; 2]> {
        if headers.has(AUTHORIZATION) {
            return None;
        }
        let token = Self::single(headers, &self.name).ok().flatten()?;
        (!token.is_empty()).then(|| self.set(&token, max_age))
    }
}

/// One `Set-Cookie` value: Secure, SameSite=Lax, Path=/, no Domain (as the `__Host-`
/// prefix requires), HttpOnly unless the page's script must read it. Tokens and CSRF
/// values are base64url and dots: valid cookie octets as they are.
fn set_cookie(name: &str, value: &str, max_age: i64, http_only: bool) -> String {
    let http_only = if http_only { "; HttpOnly" } else { "" };
    format!(
        "{name}={value}; Max-Age={}; Path=/; Secure; SameSite=Lax{http_only}",
        max_age.max(0)
    )
}

/// The CSRF value of the session whose token is `token`: a digest of the token, so any
/// service that sees the session cookie checks it without a secret of its own, and a
/// value planted by another page or taken from another session fails. It reveals
/// nothing of the token (SHA-256, one way).
pub fn csrf_value(token: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"session-store csrf\0");
    digest.update(token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// The request's one `Authorization` credential; two or more headers are `invalid_token`.
pub fn authorization(
    headers: &(impl RequestHeaders + ?Sized),
    accept_user_id: bool,
) -> Result<Credential, AuthError> {
    let mut values = headers.values(AUTHORIZATION);
    let first = values.next();
    if values.next().is_some() {
        return Err(AuthError::InvalidToken);
    }
    credential::parse(first, accept_user_id)
}

/// Where a request's credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The one `Authorization` header.
    Header,
    /// The session cookie (no `Authorization` header).
    Cookie,
}

/// The request's credential: its one `Authorization` header, else (under `cookies`)
/// its session cookie; and where it came from.
pub fn credential(
    headers: &(impl RequestHeaders + ?Sized),
    cookies: Option<&CookiePolicy>,
    accept_user_id: bool,
) -> Result<(Credential, Source), AuthError> {
    if !headers.has(AUTHORIZATION)
        && let Some(policy) = cookies
        && let Some(token) = CookiePolicy::single(headers, policy.name())?
    {
        if token.is_empty() {
            return Err(AuthError::MissingUserId);
        }
        return Ok((Credential::Bearer(token), Source::Cookie));
    }
    authorization(headers, accept_user_id).map(|c| (c, Source::Header))
}

/// Whether a request with `method` changes nothing (`GET`, `HEAD`, `OPTIONS`,
/// `TRACE`). Methods are case-sensitive: `get` or an empty method is unsafe.
pub fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// The CSRF check of a request authenticated by the session cookie holding `token`,
/// for `method` (none: the method is unknown, so unsafe).
pub fn check_csrf(
    headers: &(impl RequestHeaders + ?Sized),
    method: Option<&str>,
    cookies: Option<&CookiePolicy>,
    token: &str,
) -> Result<(), AuthError> {
    if method.is_some_and(is_safe_method) {
        return Ok(());
    }
    let Some(policy) = cookies else {
        return Err(AuthError::CsrfFailed);
    };
    let cookie = CookiePolicy::single(headers, policy.csrf_name())
        .map_err(|_| AuthError::CsrfFailed)?
        .filter(|v| !v.is_empty())
        .ok_or(AuthError::CsrfFailed)?;
    let mut presented = headers.values(CSRF_HEADER);
    let (Some(value), None) = (presented.next(), presented.next()) else {
        return Err(AuthError::CsrfFailed);
    };
    let value = std::str::from_utf8(value).map_err(|_| AuthError::CsrfFailed)?;
    if constant_time_eq(value, &cookie) && constant_time_eq(value, &csrf_value(token)) {
        Ok(())
    } else {
        Err(AuthError::CsrfFailed)
    }
}

/// What a request presented, read before any await: the credential, and for a cookie
/// the outcome of its CSRF check (reported only when the session itself is valid, so
/// a dead session answers 401 whatever its CSRF header).
#[derive(Debug)]
pub struct Presented {
    /// The credential.
    pub credential: Credential,
    /// Where it came from.
    pub source: Source,
    /// The CSRF check's outcome (always `Ok` for `Authorization`).
    pub csrf: Result<(), AuthError>,
}

/// Reads what a request with `method` presents, under `cookies` (none: the service
/// takes no session cookie).
pub fn present(
    headers: &(impl RequestHeaders + ?Sized),
    method: Option<&str>,
    cookies: Option<&CookiePolicy>,
    accept_user_id: bool,
) -> Result<Presented, AuthError> {
    let (credential, source) = credential(headers, cookies, accept_user_id)?;
    let csrf = match (&credential, source) {
        (Credential::Bearer(token), Source::Cookie) => check_csrf(headers, method, cookies, token),
        _ => Ok(()),
    };
    Ok(Presented {
        credential,
        source,
        csrf,
    })
}

/// Headers as a list of `(lowercase name, value)` pairs: for tests and tools.
impl RequestHeaders for [(&str, &str)] {
    fn values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CookiePolicy {
        CookiePolicy {
            name: "__Host-session".into(),
            csrf_name: "__Host-session-csrf".into(),
        }
    }

    fn cookie_request(
        token: &str,
        csrf_cookie: &str,
        csrf_header: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut headers = vec![(
            "cookie".to_owned(),
            format!("__Host-session={token}; __Host-session-csrf={csrf_cookie}"),
        )];
        if let Some(value) = csrf_header {
            headers.push(("x-csrf-token".to_owned(), value.to_owned()));
        }
        headers
    }

    fn check(headers: &[(String, String)], method: Option<&str>) -> Result<(), AuthError> {
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        present(pairs.as_slice(), method, Some(&policy()), false).and_then(|p| p.csrf)
    }

    #[test]
    fn only_get_head_options_and_trace_are_safe() {
        for method in ["GET", "HEAD", "OPTIONS", "TRACE"] {
            assert!(is_safe_method(method), "{method}");
        }
        for method in [
            "POST",
            "post",
            "get",
            "PROPPATCH",
            "",
            "DELETE",
            "PUT",
            "PATCH",
        ] {
            assert!(!is_safe_method(method), "{method}");
        }
    }

    #[test]
    fn a_csrf_value_from_another_session_fails_even_when_cookie_and_header_agree() {
        let planted = csrf_value("another.session.token");
        let headers = cookie_request("a.session.token", &planted, Some(&planted));
        assert_eq!(check(&headers, Some("POST")), Err(AuthError::CsrfFailed));
        let own = csrf_value("a.session.token");
        let headers = cookie_request("a.session.token", &own, Some(&own));
        assert_eq!(check(&headers, Some("POST")), Ok(()));
        assert_eq!(check(&headers, None), Ok(()));
    }

    #[test]
    fn an_unknown_method_needs_the_csrf_header() {
        let own = csrf_value("t.o.k");
        let headers = cookie_request("t.o.k", &own, None);
        assert_eq!(check(&headers, None), Err(AuthError::CsrfFailed));
        assert_eq!(check(&headers, Some("post")), Err(AuthError::CsrfFailed));
        assert_eq!(check(&headers, Some("GET")), Ok(()));
    }

    #[test]
    fn the_session_cookie_twice_is_an_invalid_token() {
        let headers = [("cookie", "__Host-session=a; __Host-session=b")];
        assert_eq!(
            credential(headers.as_slice(), Some(&policy()), false).err(),
            Some(AuthError::InvalidToken)
        );
    }
}
