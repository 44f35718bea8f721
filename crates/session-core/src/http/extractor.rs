//! The [`Session`] extractor: a handler that takes a `Session` argument runs only for
//! a request with a live session, validated by the app's [`SessionValidator`].

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};

use super::cookie::{Source, check_csrf, session_credential};
use crate::credential::Credential;
use crate::error::AuthError;
use crate::session::Session;
use crate::validate::LocalValidator;

/// How a service validates sessions: locally against Redis, or by asking the auth-service.
#[derive(Debug, Clone)]
pub enum SessionValidator {
    /// Straight against Redis.
    Local(LocalValidator),
    /// Through the auth-service's `/introspect`.
    #[cfg(feature = "http-client")]
    Remote(crate::client::IntrospectionClient),
}

impl SessionValidator {
    /// Whether seed-mode userId credentials are accepted.
    pub fn accepts_user_id(&self) -> bool {
        match self {
            Self::Local(v) => v.accepts_user_id(),
            #[cfg(feature = "http-client")]
            Self::Remote(v) => v.accepts_user_id(),
        }
    }

    /// Validates a credential; see [`LocalValidator::validate`]. `request_id` is
    /// forwarded on the introspection call in remote mode.
    pub async fn validate(
        &self,
        credential: &Credential,
        request_id: Option<&str>,
    ) -> Result<Session, AuthError> {
        match self {
            Self::Local(v) => {
                let _ = request_id;
                v.validate(credential).await
            }
            #[cfg(feature = "http-client")]
            Self::Remote(v) => v.validate(credential, request_id).await,
        }
    }
}

/// Reads and validates the request's credential (its `Authorization` header, else
/// the session cookie) with the app's [`SessionValidator`]; a cookie-authenticated
/// unsafe request must also pass the CSRF check.
pub async fn authenticate(req: &HttpRequest) -> Result<Session, AuthError> {
    let Some(validator) = req.app_data::<web::Data<SessionValidator>>().cloned() else {
        tracing::error!("no SessionValidator registered as app data");
        return Err(AuthError::Unavailable);
    };
    let (credential, source) = session_credential(req, validator.accepts_user_id())?;
    let request_id = crate::trace_context::current_request_id();
    let mut result = validator.validate(&credential, request_id.as_deref()).await;
    if result.is_ok() && source == Source::Cookie {
        result = check_csrf(req, req.method()).and(result);
    }
    match &result {
        Ok(_) => crate::measure::count("session_validations_total", "outcome", "ok"),
        Err(err) => {
            crate::measure::count("session_validations_total", "outcome", err.code().as_str());
            tracing::info!(code = %err.code(), "session refused");
        }
    }
    result
}

impl FromRequest for Session {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Session, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}
