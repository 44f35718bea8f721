//! The contract's error responses: JSON body, `WWW-Authenticate` on 401, `Retry-After`
//! on 503, `Cache-Control: no-store`; status, headers and body all from session-core's
//! [`ErrorCode`], so every adapter answers alike.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use session_core::{AuthError, ErrorBody, ErrorCode};

/// The contract's response for `code`.
pub fn error_response(code: ErrorCode) -> HttpResponse {
    error_response_with(code, code.message(), None)
}

/// Like [`error_response`], with a message and an explicit `Retry-After` in seconds.
pub fn error_response_with(
    code: ErrorCode,
    message: &str,
    retry_after: Option<u64>,
) -> HttpResponse {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    if let Some(value) = code.www_authenticate() {
        builder.insert_header((header::WWW_AUTHENTICATE, value));
    }
    if let Some(secs) = retry_after.or(code.retry_after()) {
        builder.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
    }
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(ErrorBody::new(code, message).to_json())
}

/// A refused session as an actix-web error: the extractor's rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal(pub AuthError);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<AuthError> for Refusal {
    fn from(err: AuthError) -> Self {
        Self(err)
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        error_response(self.0.code())
    }
}
