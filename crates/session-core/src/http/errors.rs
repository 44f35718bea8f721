//! The contract's error responses: JSON body, `WWW-Authenticate` on 401, `Retry-After`
//! on 503, `Cache-Control: no-store`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::{AuthError, ErrorCode};

/// Seconds a client is told to wait after a 503.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

const REALM: &str = "Bearer realm=\"session-store\"";
const REALM_INVALID: &str = "Bearer realm=\"session-store\", error=\"invalid_token\"";

/// The contract's error body.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody<'a> {
    /// The snake_case code.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::error::ErrorCode))]
    pub error: &'a str,
    /// A human sentence.
    pub message: &'a str,
}

/// The contract's response for `code`: JSON body, `WWW-Authenticate` on 401,
/// `Retry-After` on 503.
pub fn error_response(code: ErrorCode) -> HttpResponse {
    error_response_with(code, code.message(), None)
}

/// Like [`error_response`], with a message and an explicit `Retry-After` in seconds.
pub fn error_response_with(
    code: ErrorCode,
    message: &str,
    retry_after: Option<u64>,
) -> HttpResponse {
    let status = code.status();
    let mut builder = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        let value = if code.refuses_credential() {
            REALM_INVALID
        } else {
            REALM
        };
        builder.insert_header((header::WWW_AUTHENTICATE, value));
    }
    let retry_after = retry_after
        .or((code == ErrorCode::ServiceUnavailable).then_some(UNAVAILABLE_RETRY_AFTER_SECS));
    if let Some(secs) = retry_after {
        builder.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
    }
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder.json(ErrorBody {
        error: code.as_str(),
        message,
    })
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        error_response(self.code())
    }
}
