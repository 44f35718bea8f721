//! A request's credential: its one `Authorization` header, else the session as a
//! browser cookie: `<name>` (HttpOnly, the token) and `<name>-csrf`
//! (readable by the page's script). A request without `Authorization` is
//! authenticated by the session cookie; a cookie-authenticated `POST`, `PUT`, `PATCH`
//! or `DELETE` must carry `X-CSRF-Token` equal to the CSRF cookie (compared in constant
//! time), else `403 csrf_failed`. `Authorization` wins when both are present, and a
//! bearer request never needs the CSRF header.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponseBuilder};

use crate::credential::{self, Credential, constant_time_eq};
use crate::error::AuthError;
use crate::settings::CookieSettings;

/// The header a cookie-authenticated unsafe request carries.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Registered as app data by a service that accepts the session cookie.
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
    fn single(req: &HttpRequest, name: &str) -> Result<Option<String>, AuthError> {
        let mut found = None;
        for value in req.headers().get_all(header::COOKIE) {
            let text = value.to_str().map_err(|_| AuthError::InvalidToken)?;
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

    /// For a cookie-authenticated request, sets both cookies again with `max_age` (the
    /// session's idle deadline moved), keeping the token and the CSRF value as they
    /// are; a request authenticated otherwise gets nothing.
    pub fn renew(&self, req: &HttpRequest, res: &mut HttpResponseBuilder, max_age: i64) {
        if req.headers().contains_key(header::AUTHORIZATION) {
            return;
        }
        let (Ok(Some(token)), Ok(Some(csrf))) = (
            Self::single(req, &self.name),
            Self::single(req, &self.csrf_name),
        ) else {
            return;
        };
        self.set(res, &token, &csrf, max_age);
    }

    /// Sets the session and a fresh CSRF cookie, both for `max_age` seconds. Tokens
    /// and CSRF values are base64url and dots: valid cookie octets as they are.
    pub fn set(&self, res: &mut HttpResponseBuilder, token: &str, csrf: &str, max_age: i64) {
        res.append_header((header::SET_COOKIE, cookie(&self.name, token, max_age, true)));
        res.append_header((
            header::SET_COOKIE,
            cookie(&self.csrf_name, csrf, max_age, false),
        ));
    }

    /// Clears both cookies.
    pub fn clear(&self, res: &mut HttpResponseBuilder) {
        res.append_header((header::SET_COOKIE, cookie(&self.name, "", 0, true)));
        res.append_header((header::SET_COOKIE, cookie(&self.csrf_name, "", 0, false)));
    }
}

/// One `Set-Cookie` value: Secure, SameSite=Lax, Path=/, no Domain (as the `__Host-`
/// prefix requires), HttpOnly unless the page's script must read it.
fn cookie(name: &str, value: &str, max_age: i64, http_only: bool) -> String {
    let http_only = if http_only { "; HttpOnly" } else { "" };
    format!(
        "{name}={value}; Max-Age={}; Path=/; Secure; SameSite=Lax{http_only}",
        max_age.max(0)
    )
}

/// The request's one `Authorization` credential; two or more headers are `invalid_token`.
pub fn credential_of(req: &HttpRequest, accept_user_id: bool) -> Result<Credential, AuthError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let first = values.next();
    if values.next().is_some() {
        return Err(AuthError::InvalidToken);
    }
    credential::parse(first.map(|v| v.as_bytes()), accept_user_id)
}

/// Where a request's credential came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The one `Authorization` header.
    Header,
    /// The session cookie (no `Authorization` header).
    Cookie,
}

/// The request's credential: its one `Authorization` header, else (when the app
/// accepts it) its session cookie; and where it came from.
pub fn session_credential(
    req: &HttpRequest,
    accept_user_id: bool,
) -> Result<(Credential, Source), AuthError> {
    let has_header = req.headers().contains_key(header::AUTHORIZATION);
    let policy = req.app_data::<CookiePolicy>();
    if !has_header
        && let Some(policy) = policy
        && let Some(token) = CookiePolicy::single(req, policy.name())?
    {
        if token.is_empty() {
            return Err(AuthError::MissingUserId);
        }
        return Ok((Credential::Bearer(token), Source::Cookie));
    }
    credential_of(req, accept_user_id).map(|c| (c, Source::Header))
}

/// The CSRF check of a cookie-authenticated request whose method is `method`.
pub fn check_csrf(req: &HttpRequest, method: &Method) -> Result<(), AuthError> {
    let unsafe_method = matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if !unsafe_method {
        return Ok(());
    }
    let Some(policy) = req.app_data::<CookiePolicy>() else {
        return Err(AuthError::CsrfFailed);
    };
    let expected = CookiePolicy::single(req, policy.csrf_name())
        .map_err(|_| AuthError::CsrfFailed)?
        .filter(|v| !v.is_empty())
        .ok_or(AuthError::CsrfFailed)?;
    let mut presented = req.headers().get_all(CSRF_HEADER);
    let (Some(value), None) = (presented.next(), presented.next()) else {
        return Err(AuthError::CsrfFailed);
    };
    let value = value.to_str().map_err(|_| AuthError::CsrfFailed)?;
    if constant_time_eq(value, &expected) {
        Ok(())
    } else {
        Err(AuthError::CsrfFailed)
    }
}
