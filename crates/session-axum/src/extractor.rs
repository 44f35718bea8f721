//! [`SessionAuth`], what a router carries to validate sessions, and the [`Session`]
//! extractor.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use session_core::request::{self, Presented};
use session_core::{AuthError, CookiePolicy, RequestHeaders, SessionValidator};

use crate::errors::Refusal;

/// An axum request's headers, for session-core.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a>(pub &'a HeaderMap);

impl RequestHeaders for Headers<'_> {
    fn values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0
            .get_all(name)
            .into_iter()
            .map(|value| value.as_bytes())
    }
}

/// The validator a router validates sessions with, and its cookie policy (none: the
/// session cookie is not accepted). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionAuth {
    validator: Arc<SessionValidator>,
    cookies: Option<CookiePolicy>,
}

impl SessionAuth {
    /// Validates with `validator`, taking the session cookie under `cookies`.
    pub fn new(validator: SessionValidator, cookies: Option<CookiePolicy>) -> Self {
        Self {
            validator: Arc::new(validator),
            cookies,
        }
    }

    /// The validator.
    pub fn validator(&self) -> &SessionValidator {
        &self.validator
    }

    /// The cookie policy, when the session cookie is accepted.
    pub fn cookies(&self) -> Option<&CookiePolicy> {
        self.cookies.as_ref()
    }

    /// What a request with these `parts` presents (read at once, nothing awaited).
    pub fn present(&self, parts: &Parts) -> Result<Presented, AuthError> {
        request::present(
            &Headers(&parts.headers),
            Some(parts.method.as_str()),
            self.cookies.as_ref(),
            self.validator.accepts_user_id(),
        )
    }

    /// Validates the session a request with these `parts` presents.
    pub async fn authenticate(&self, parts: &Parts) -> Result<session_core::Session, AuthError> {
        let presented = self.present(parts);
        self.validator.authenticate(presented).await
    }
}

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

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Refusal;

    /// The session a [`crate::SessionLayer`] already found, else the one the router's
    /// [`SessionAuth`] extension validates now.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(session) = parts.extensions.get::<Session>() {
            return Ok(session.clone());
        }
        let Some(auth) = parts.extensions.get::<SessionAuth>().cloned() else {
            tracing::error!("no SessionAuth extension on the router");
            return Err(Refusal(AuthError::Unavailable));
        };
        auth.authenticate(parts).await.map(Session).map_err(Refusal)
    }
}
