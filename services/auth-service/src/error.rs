//! The auth-service's `ApiError`: every failure as one of the contract's codes.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use session_actix::error_response_with;
use session_core::ErrorCode;

use crate::accounts::AccountError;

/// An error answered with the contract's JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiError {
    code: ErrorCode,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with the given code.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            retry_after: None,
        }
    }

    /// The contract's code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code.as_str())
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        let code = match err {
            AccountError::InvalidEmail => ErrorCode::InvalidEmail,
            AccountError::WeakPassword => ErrorCode::WeakPassword,
            AccountError::EmailTaken => ErrorCode::EmailTaken,
            AccountError::TooManySessions => ErrorCode::TooManySessions,
            AccountError::NotFound => ErrorCode::NotFound,
            AccountError::InvalidCredentials => ErrorCode::InvalidCredentials,
            AccountError::TooManyRequests(secs) => {
                return Self {
                    code: ErrorCode::TooManyRequests,
                    retry_after: Some(secs),
                };
            }
            AccountError::Auth(auth) => auth.code(),
            AccountError::Unavailable => ErrorCode::ServiceUnavailable,
            AccountError::InvalidResetToken => ErrorCode::InvalidResetToken,
            AccountError::InvalidVerificationToken => ErrorCode::InvalidVerificationToken,
            AccountError::EmailNotVerified => ErrorCode::EmailNotVerified,
            AccountError::Internal => ErrorCode::InternalError,
        };
        Self::new(code)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        error_response_with(self.code, self.code.message(), self.retry_after)
    }
}
