//! `GET /verify`: the auth endpoint of a gateway (nginx `auth_request`, Traefik
//! ForwardAuth, Envoy `ext_authz` over HTTP). 200 lets the request through and names
//! the user in `X-User-Id`, `X-User-Email` and `X-Session-Id`; anything else stops it.
//! A refusal carries its contract code in `X-Auth-Error` too, since a gateway sees
//! the headers of the answer but not its body. The session cookie counts as a
//! credential here as everywhere, with the CSRF check for the original request's
//! method.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use service_kit::error_responses;
use session_actix::error_response;
use session_core::session::rfc3339;
use session_core::{AuthError, LocalValidator};

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
        ("X-Original-Method" = Option<String>, Header, description = "The method of the request the gateway holds (default: this request's); a cookie-authenticated `POST`, `PUT`, `PATCH` or `DELETE` needs `X-CSRF-Token`.", example = "POST"),
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

fn refused(err: AuthError) -> HttpResponse {
    let code = err.code();
    let mut res = error_response(code);
    res.headers_mut()
        .insert(AUTH_ERROR.clone(), HeaderValue::from_static(code.as_str()));
    res
}
