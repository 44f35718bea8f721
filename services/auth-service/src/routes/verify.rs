//! `GET /verify`: the auth endpoint of a gateway (nginx `auth_request`, Traefik
//! ForwardAuth, Envoy `ext_authz` over HTTP). 200 lets the request through and names
//! the user in `X-User-Id`, `X-User-Email` and `X-Session-Id`; anything else stops it.
//! A refusal carries its contract code in `X-Auth-Error` too, since a gateway sees
//! the headers of the answer but not its body. The session cookie counts as a
//! credential here as everywhere, with the CSRF check for the original request's
//! method. A 200 also names the `Cookie` header the gateway forwards: the request's
//! cookies but the session and CSRF cookies, which stay at the gateway like
//! `Authorization` (`X-Forward-Cookie`, and the same as `Cookie` for gateways that can
//! only copy a header of the answer under its own name, as Traefik's ForwardAuth).

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use service_kit::error_responses;
use session_actix::error_response;
use session_core::session::rfc3339;
use session_core::{AuthError, CookiePolicy, LocalValidator};

/// The validator `/verify` uses: straight from Redis, or through the validation cache
/// when `validation.cache` is on. A bare userId is never a credential here.
#[derive(Clone)]
pub struct Verifier(pub LocalValidator);

/// Who the session belongs to, for a gateway.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct Verified {
    /// The user's id (24 lowercase hex characters).
    #[schema(pattern = "^[0-9a-f]{24}$", example = "65f1c0ffee65f1c0ffee0001")]
    user_id: String,
    /// The session's id (22 URL-safe base64 characters).
    #[schema(pattern = "^[A-Za-z0-9_-]{22}$", example = "q1w2e3r4t5y6u7i8o9p0aZ")]
    session_id: String,
    /// The user's email.
    #[schema(example = "ada@example.com")]
    email: String,
    /// When the session ends if nothing more happens (RFC 3339, UTC).
    #[schema(format = DateTime, example = "2026-01-02T15:04:05Z")]
    expires_at: String,
}

static USER_ID: HeaderName = HeaderName::from_static("x-user-id");
static USER_EMAIL: HeaderName = HeaderName::from_static("x-user-email");
static SESSION_ID: HeaderName = HeaderName::from_static("x-session-id");
static AUTH_ERROR: HeaderName = HeaderName::from_static("x-auth-error");
static FORWARD_COOKIE: HeaderName = HeaderName::from_static("x-forward-cookie");

error_responses!(
    /// What `GET /verify` refuses with; each refusal also names its code in
    /// `X-Auth-Error`.
    VerifyErrors: MissingAuthorization, MissingUserId, InvalidToken, SessionExpired,
        SessionNotFound, SessionRevoked, CsrfFailed, ServiceUnavailable
);

/// `GET /verify`.
#[utoipa::path(
    get,
    path = "/verify",
    tag = "services",
    operation_id = "verify",
    summary = "Gateway check",
    description = "For gateways that ask an auth endpoint before forwarding (nginx `auth_request`, Traefik ForwardAuth, Envoy `ext_authz` over HTTP): `200` lets the request through and names the user in `X-User-Id`, `X-User-Email` and `X-Session-Id`; anything else stops it, and names its code in `X-Auth-Error` too (a gateway sees headers, not bodies). A bare userId is never a credential here. A cookie-authenticated request is CSRF-checked for the method in `X-Original-Method`. A gateway must overwrite the three identity headers on the way in, whatever the client sent.",
    params(
        ("X-Original-Method" = Option<String>, Header, description = "The method of the request the gateway holds (nginx). A cookie-authenticated request with any method but `GET`, `HEAD`, `OPTIONS` and `TRACE` needs `X-CSRF-Token`; so does one whose method is not sent, not a method, or differs from `X-Forwarded-Method`.", example = "POST"),
        ("X-Forwarded-Method" = Option<String>, Header, description = "The same, as Traefik's ForwardAuth names it.", example = "POST"),
        super::csrf::CsrfHeader,
    ),
    security(("sessionBearer" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "A live session: let the request through.", body = Verified,
            headers(
                ("Cache-Control" = String, description = "`no-store`."),
                ("X-User-Id" = String, description = "The user's id."),
                ("X-User-Email" = String, description = "The user's email (UTF-8 bytes)."),
                ("X-Session-Id" = String, description = "The session's id."),
                ("X-Forward-Cookie" = String, description = "The `Cookie` header to forward to the upstream: the request's cookies but the session cookie and its CSRF cookie, in order. Absent when nothing is left (forward no `Cookie` then)."),
                ("Cookie" = String, description = "The same as `X-Forward-Cookie`, for gateways that copy a header of the answer onto the request under its own name (Traefik's `authResponseHeaders`); absent when nothing is left."),
            )),
        VerifyErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn verify(req: HttpRequest, verifier: web::Data<Verifier>) -> HttpResponse {
    // A gateway checks the request it holds: a cookie-authenticated unsafe request
    // (its method as the gateway reports it) needs the CSRF header too.
    let checked = match session_actix::cookie::present(&req, gateway_method(&req).as_deref(), false)
    {
        Ok(presented) => {
            let checked = verifier.0.validate(&presented.credential).await;
            checked.and_then(|session| presented.csrf.map(|()| session))
        }
        Err(err) => Err(err),
    };
    match checked {
        Ok(session) => {
            let mut res = HttpResponse::Ok();
            res.insert_header((header::CACHE_CONTROL, "no-store"));
            for (name, value) in [
                (&USER_ID, session.user_id.as_bytes()),
                (&USER_EMAIL, session.email.as_bytes()),
                (&SESSION_ID, session.session_id.as_bytes()),
            ] {
                // Emails may hold non-ASCII letters: sent as their UTF-8 bytes.
                if let Ok(value) = HeaderValue::from_bytes(value) {
                    res.insert_header((name.clone(), value));
                }
            }
            // The session and CSRF cookies stay at the gateway; other cookies pass.
            let kept_back = req
                .app_data::<CookiePolicy>()
                .map_or([""; 2], |policy| [policy.name(), policy.csrf_name()]);
            let cookies = req.headers().get_all(header::COOKIE);
            if let Some(value) = forward_cookie(cookies.map(HeaderValue::as_bytes), &kept_back)
                .and_then(|value| HeaderValue::from_bytes(&value).ok())
            {
                res.insert_header((FORWARD_COOKIE.clone(), value.clone()));
                res.insert_header((header::COOKIE, value));
            }
            res.json(Verified {
                user_id: session.user_id,
                session_id: session.session_id,
                email: session.email,
                expires_at: rfc3339(session.expires_at),
            })
        }
        Err(err) => refused(err),
    }
}

/// The method of the request the gateway holds, as it reports it: `X-Original-Method`
/// (nginx) or `X-Forwarded-Method` (Traefik). None, so unsafe, when neither is sent,
/// when they (or two lines of one) differ, or when the value is not text.
fn gateway_method(req: &HttpRequest) -> Option<String> {
    let mut found: Option<&[u8]> = None;
    for name in ["x-original-method", "x-forwarded-method"] {
        for value in req.headers().get_all(name) {
            match found {
                Some(seen) if seen != value.as_bytes() => return None,
                _ => found = Some(value.as_bytes()),
            }
        }
    }
    found
        .and_then(|value| std::str::from_utf8(value).ok())
        .map(str::to_owned)
}

/// The `Cookie` header a gateway forwards: every cookie of the request's `Cookie`
/// header(s) but those named in `kept_back`, in order, joined by `; `; none when
/// nothing is left.
fn forward_cookie<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    kept_back: &[&str],
) -> Option<Vec<u8>> {
    let mut forwarded = Vec::new();
    for pair in lines.flat_map(|line| line.split(|byte| *byte == b';')) {
        let pair = pair.trim_ascii();
        let name = pair.split(|byte| *byte == b'=').next().unwrap_or(pair);
        if pair.is_empty()
            || kept_back
                .iter()
                .any(|kept| !kept.is_empty() && kept.as_bytes() == name.trim_ascii())
        {
            continue;
        }
        if !forwarded.is_empty() {
            forwarded.extend_from_slice(b"; ");
        }
        forwarded.extend_from_slice(pair);
    }
    (!forwarded.is_empty()).then_some(forwarded)
}

fn refused(err: AuthError) -> HttpResponse {
    let code = err.code();
    let mut res = error_response(code);
    res.headers_mut()
        .insert(AUTH_ERROR.clone(), HeaderValue::from_static(code.as_str()));
    res
}

#[cfg(test)]
mod tests {
    use super::forward_cookie;

    const KEPT_BACK: [&str; 2] = ["__Host-session", "__Host-session-csrf"];

    fn forwarded(lines: &[&str]) -> Option<String> {
        forward_cookie(lines.iter().map(|line| line.as_bytes()), &KEPT_BACK)
            .map(|value| String::from_utf8(value).unwrap())
    }

    #[test]
    fn the_session_and_csrf_cookies_stay_back_and_others_pass_in_order() {
        assert_eq!(
            forwarded(&["theme=dark; __Host-session=a.b.c; lang=en"]).as_deref(),
            Some("theme=dark; lang=en")
        );
        assert_eq!(
            forwarded(&["__Host-session-csrf=x", "a=1;b=2 ; __Host-session =t", "c"]).as_deref(),
            Some("a=1; b=2; c")
        );
        // Lookalike names are other cookies.
        assert_eq!(
            forwarded(&["__Host-session-other=1; __host-session=2"]).as_deref(),
            Some("__Host-session-other=1; __host-session=2")
        );
    }

    #[test]
    fn nothing_is_forwarded_when_only_the_session_cookies_were_sent() {
        assert_eq!(
            forwarded(&["__Host-session=t; __Host-session-csrf=c"]),
            None
        );
        assert_eq!(forwarded(&[" ; ;"]), None);
        assert_eq!(forwarded(&[]), None);
    }

    #[test]
    fn without_a_cookie_policy_every_cookie_passes() {
        let all = forward_cookie(std::iter::once(&b"__Host-session=t; a=1"[..]), &["", ""]);
        assert_eq!(all.as_deref(), Some(&b"__Host-session=t; a=1"[..]));
    }
}
