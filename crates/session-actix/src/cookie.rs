//! The request's headers as session-core reads them, and the session cookies on a
//! response (set at login, renewed when the idle deadline moves, cleared at logout).

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponseBuilder};
use session_core::request::{self, Presented};
use session_core::{AuthError, CookiePolicy, RequestHeaders};

/// An actix-web request's headers, for session-core.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a>(pub &'a HeaderMap);

impl RequestHeaders for Headers<'_> {
    fn values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0.get_all(name).map(|value| value.as_bytes())
    }
}

/// What `req` presents, for a check of `method` (none: unknown, so unsafe), under the
/// app's [`CookiePolicy`] (registered as app data when the service takes cookies).
pub fn present(
    req: &HttpRequest,
    method: Option<&str>,
    accept_user_id: bool,
) -> Result<Presented, AuthError> {
    let cookies = req.app_data::<CookiePolicy>();
    request::present(&Headers(req.headers()), method, cookies, accept_user_id)
}

/// Sets the session and its CSRF cookie for `token`, both for `max_age` seconds.
pub fn set(policy: &CookiePolicy, res: &mut HttpResponseBuilder, token: &str, max_age: i64) {
    for value in policy.set(token, max_age) {
        res.append_header((header::SET_COOKIE, value));
    }
}

/// Clears both cookies.
pub fn clear(policy: &CookiePolicy, res: &mut HttpResponseBuilder) {
    for value in policy.clear() {
        res.append_header((header::SET_COOKIE, value));
    }
}

/// For a cookie-authenticated request, sets both cookies again with `max_age` (the
/// session's idle deadline moved); a request authenticated otherwise gets nothing.
pub fn renew(
    policy: &CookiePolicy,
    req: &HttpRequest,
    res: &mut HttpResponseBuilder,
    max_age: i64,
) {
    if let Some(values) = policy.renew(&Headers(req.headers()), max_age) {
        for value in values {
            res.append_header((header::SET_COOKIE, value));
        }
    }
}
