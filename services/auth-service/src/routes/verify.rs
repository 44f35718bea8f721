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
use session_core::http::cookie::{Source, check_csrf, session_credential};
use session_core::http::error_response;
use session_core::session::rfc3339;
use session_core::{AuthError, LocalValidator};

/// The validator `/verify` uses: straight from Redis, or through the validation cache
/// when `validation.cache` is on. A bare userId is never a credential here.
#[derive(Clone)]
pub struct Verifier(pub LocalValidator);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Verified {
    user_id: String,
    session_id: String,
    email: String,
    expires_at: String,
}

static USER_ID: HeaderName = HeaderName::from_static("x-user-id");
static USER_EMAIL: HeaderName = HeaderName::from_static("x-user-email");
static SESSION_ID: HeaderName = HeaderName::from_static("x-session-id");
static AUTH_ERROR: HeaderName = HeaderName::from_static("x-auth-error");

/// `GET /verify`.
#[tracing::instrument(skip_all)]
pub async fn verify(req: HttpRequest, verifier: web::Data<Verifier>) -> HttpResponse {
    let checked = match session_credential(&req, false) {
        Ok((credential, source)) => {
            let checked = verifier.0.validate(&credential).await;
            // A gateway checks the request it holds: a cookie-authenticated unsafe
            // request (its method in X-Original-Method) needs the CSRF header too.
            if checked.is_ok() && source == Source::Cookie {
                check_csrf(&req, &original_method(&req)).and(checked)
            } else {
                checked
            }
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

/// The method of the request the gateway holds (`X-Original-Method`, as nginx,
/// Traefik and Envoy are configured to send it), else this request's.
fn original_method(req: &HttpRequest) -> actix_web::http::Method {
    req.headers()
        .get("x-original-method")
        .and_then(|v| actix_web::http::Method::from_bytes(v.as_bytes()).ok())
        .unwrap_or_else(|| req.method().clone())
}

fn refused(err: AuthError) -> HttpResponse {
    let code = err.code();
    let mut res = error_response(code);
    res.headers_mut()
        .insert(AUTH_ERROR.clone(), HeaderValue::from_static(code.as_str()));
    res
}
