//! [`SessionLayer`]: a tower layer that lets through only requests with a live
//! session, handing the session to the handlers (the [`Session`] extractor) and
//! answering every other request with the contract's refusal.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::errors::Refusal;
use crate::extractor::{Session, SessionAuth};

/// Validates every request of the router it wraps with its [`SessionAuth`].
#[derive(Debug, Clone)]
pub struct SessionLayer {
    auth: SessionAuth,
}

impl SessionLayer {
    /// A layer validating with `auth`.
    pub fn new(auth: SessionAuth) -> Self {
        Self { auth }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service [`SessionLayer`] makes.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    auth: SessionAuth,
}

impl<S> Service<Request> for SessionService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was driven to readiness serves this request (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        let (mut parts, body) = request.into_parts();
        let presented = auth.present(&parts);
        Box::pin(async move {
            match auth.validator().authenticate(presented).await {
                Ok(session) => {
                    parts.extensions.insert(Session(session));
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(err) => Ok(Refusal(err).into_response()),
            }
        })
    }
}
