//! The [`Session`] extractor: a handler that takes a `Session` argument runs only for
//! a request with a live session, validated by the app's [`SessionValidator`]
//! (registered as `web::Data<SessionValidator>`).

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use session_core::{AuthError, SessionValidator};

use crate::errors::Refusal;

/// A request's live session (session-core's [`session_core::Session`]).
#[derive(Debug, Clone)]
pub struct Session(pub session_core::Session);

impl Session {
    /// The session itself.
    pub fn into_inner(self) -> session_core::Session {
        self.0
    }
}

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// Reads and validates the request's credential (its `Authorization` header, else the
/// session cookie) with the app's [`SessionValidator`]; a cookie-authenticated unsafe
/// request must also pass the CSRF check.
pub async fn authenticate(req: &HttpRequest) -> Result<session_core::Session, AuthError> {
    let Some(validator) = req.app_data::<web::Data<SessionValidator>>().cloned() else {
        tracing::error!("no SessionValidator registered as app data");
        return Err(AuthError::Unavailable);
    };
    let presented = crate::cookie::present(
        req,
        Some(req.method().as_str()),
        validator.accepts_user_id(),
    );
    validator.authenticate(presented).await
}

impl FromRequest for Session {
    type Error = Refusal;
    type Future = Pin<Box<dyn Future<Output = Result<Session, Refusal>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await.map(Session).map_err(Refusal) })
    }
}
