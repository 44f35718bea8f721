//! The contract's error responses: JSON body, `WWW-Authenticate` on 401, `Retry-After`
//! on 503, `Cache-Control: no-store`; status, headers and body all from session-core's
//! [`ErrorCode`], so every adapter answers alike.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use session_core::{AuthError, ErrorBody, ErrorCode};

/// The contract's response for `code`.
pub fn error_response(code: ErrorCode) -> Response {
    error_response_with(code, code.message(), None)
}

/// Like [`error_response`], with a message and an explicit `Retry-After` in seconds.
pub fn error_response_with(code: ErrorCode, message: &str, retry_after: Option<u64>) -> Response {
    let mut response = Response::new(Body::from(ErrorBody::new(code, message).to_json()));
    *response.status_mut() =
        StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(value) = code.www_authenticate() {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    }
    if let Some(secs) = retry_after.or(code.retry_after()) {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
    response
}

/// A refused session: the extractor's and the layer's rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal(pub AuthError);

impl From<AuthError> for Refusal {
    fn from(err: AuthError) -> Self {
        Self(err)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error_response(self.0.code())
    }
}
