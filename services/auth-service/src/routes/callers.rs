//! Callers that present a secret of their own instead of a session: the other services
//! (`internal.token`, on `/introspect`) and operators (`admin.token`). As extractors
//! they run before the body is read, so a stranger's body is never parsed.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, web};
use secrecy::{ExposeSecret, SecretString};
use session_actix::Headers;
use session_core::credential::constant_time_eq;
use session_core::request;
use session_core::{AuthError, Credential, ErrorCode};

use crate::error::ApiError;

/// The internal token callers must present.
#[derive(Clone)]
pub struct InternalToken(pub SecretString);

/// The admin token, if configured (`admin.token`).
#[derive(Clone)]
pub struct AdminToken(pub Option<SecretString>);

/// Whether the request's one `Authorization` header is `Bearer <secret>`, compared in
/// constant time; a missing or malformed header is its contract error.
fn presents(req: &HttpRequest, secret: &SecretString) -> Result<(), AuthError> {
    match request::authorization(&Headers(req.headers()), false)? {
        Credential::Bearer(token) if constant_time_eq(&token, secret.expose_secret()) => Ok(()),
        _ => Err(AuthError::InvalidToken),
    }
}

/// A caller that presented the internal token as its one bearer credential.
pub struct InternalCaller;

impl FromRequest for InternalCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let Some(expected) = req.app_data::<web::Data<InternalToken>>() else {
            tracing::error!("no InternalToken registered as app data");
            return ready(Err(ApiError::new(ErrorCode::InternalError)));
        };
        ready(
            presents(req, &expected.0)
                .map(|()| InternalCaller)
                .map_err(|err| {
                    tracing::warn!(
                        "introspection refused: caller did not present the internal token"
                    );
                    ApiError::new(err.code())
                }),
        )
    }
}

/// A caller that presented `admin.token`; 403 `forbidden` otherwise, and always while
/// no admin token is configured.
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let expected = req
            .app_data::<web::Data<AdminToken>>()
            .and_then(|t| t.0.as_ref());
        let presented = expected.is_some_and(|secret| presents(req, secret).is_ok());
        if !presented {
            tracing::warn!("admin endpoint refused");
        }
        ready(if presented {
            Ok(Admin)
        } else {
            Err(ApiError::new(ErrorCode::Forbidden))
        })
    }
}
