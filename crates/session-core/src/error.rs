//! The contract's error codes and the error types of the domain: session validation
//! ([`AuthError`]), the session store ([`StoreError`]) and the JWT codec ([`TokenError`]),
//! with the conversions between them.

use serde::Serialize;

/// Seconds a client is told to wait after a 503.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

/// `WWW-Authenticate` of a 401 where no credential was presented.
pub const REALM: &str = "Bearer realm=\"session-store\"";
/// `WWW-Authenticate` of a 401 that refuses a presented credential (RFC 6750 §3).
pub const REALM_INVALID: &str = "Bearer realm=\"session-store\", error=\"invalid_token\"";

/// Every error code of the contract, with its status and a default message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No Authorization header.
    MissingAuthorization,
    /// Authorization present, credential part empty.
    MissingUserId,
    /// Malformed or refused credential.
    InvalidToken,
    /// The token's `exp` has passed.
    SessionExpired,
    /// Redis holds no session for the user.
    SessionNotFound,
    /// Redis holds a different token for the user.
    SessionRevoked,
    /// Login with an unknown email or a wrong password.
    InvalidCredentials,
    /// Body is not JSON, or a field is missing or of the wrong type.
    InvalidRequest,
    /// Sign-up email rejected.
    InvalidEmail,
    /// Sign-up password rejected.
    WeakPassword,
    /// Sign-up with an email already registered.
    EmailTaken,
    /// Body over the limit.
    PayloadTooLarge,
    /// A body that is not `application/json`.
    UnsupportedMediaType,
    /// Login throttled.
    TooManyRequests,
    /// A dependency did not answer in time.
    ServiceUnavailable,
    /// An admin endpoint with a token that is not `admin.token`.
    Forbidden,
    /// A cookie-authenticated unsafe request without the matching `X-CSRF-Token`.
    CsrfFailed,
    /// `multiple` mode, `when_full = deny`, and the user holds the maximum.
    TooManySessions,
    /// No such route, or a session id that is not the caller's.
    NotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// `POST /password/reset` with a token that is unknown, used or expired.
    InvalidResetToken,
    /// `POST /email/verify` with a token that is unknown, used or expired.
    InvalidVerificationToken,
    /// Login with the right password to an account whose email is not verified.
    EmailNotVerified,
    /// Anything else. Keep it the last variant (see [`ErrorCode::ALL`]).
    InternalError,
}

impl ErrorCode {
    /// Every code, in declaration order (each at the index of its discriminant).
    pub const ALL: [ErrorCode; 24] = [
        Self::MissingAuthorization,
        Self::MissingUserId,
        Self::InvalidToken,
        Self::SessionExpired,
        Self::SessionNotFound,
        Self::SessionRevoked,
        Self::InvalidCredentials,
        Self::InvalidRequest,
        Self::InvalidEmail,
        Self::WeakPassword,
        Self::EmailTaken,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::TooManyRequests,
        Self::ServiceUnavailable,
        Self::Forbidden,
        Self::CsrfFailed,
        Self::TooManySessions,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::InvalidResetToken,
        Self::InvalidVerificationToken,
        Self::EmailNotVerified,
        Self::InternalError,
    ];

    /// The snake_case tag sent as `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingAuthorization => "missing_authorization",
            Self::MissingUserId => "missing_user_id",
            Self::InvalidToken => "invalid_token",
            Self::SessionExpired => "session_expired",
            Self::SessionNotFound => "session_not_found",
            Self::SessionRevoked => "session_revoked",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidEmail => "invalid_email",
            Self::WeakPassword => "weak_password",
            Self::EmailTaken => "email_taken",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyRequests => "too_many_requests",
            Self::ServiceUnavailable => "service_unavailable",
            Self::Forbidden => "forbidden",
            Self::CsrfFailed => "csrf_failed",
            Self::TooManySessions => "too_many_sessions",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::InvalidResetToken => "invalid_reset_token",
            Self::InvalidVerificationToken => "invalid_verification_token",
            Self::EmailNotVerified => "email_not_verified",
            Self::InternalError => "internal_error",
        }
    }

    /// The HTTP status the contract gives this code.
    pub fn status(self) -> u16 {
        match self {
            Self::MissingAuthorization
            | Self::MissingUserId
            | Self::InvalidToken
            | Self::SessionExpired
            | Self::SessionNotFound
            | Self::SessionRevoked
            | Self::InvalidCredentials => 401,
            Self::InvalidRequest | Self::InvalidResetToken | Self::InvalidVerificationToken => 400,
            Self::InvalidEmail | Self::WeakPassword => 422,
            Self::EmailTaken | Self::TooManySessions => 409,
            Self::Forbidden | Self::CsrfFailed | Self::EmailNotVerified => 403,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::TooManyRequests => 429,
            Self::ServiceUnavailable => 503,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::InternalError => 500,
        }
    }

    /// A human sentence for the client.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingAuthorization => "The request has no Authorization header.",
            Self::MissingUserId => "The Authorization header carries no credential.",
            Self::InvalidToken => "The credential is malformed or was not issued by this service.",
            Self::SessionExpired => "The session has expired; log in again.",
            Self::SessionNotFound => "There is no session for this user; log in again.",
            Self::SessionRevoked => "This session was replaced or revoked; log in again.",
            Self::InvalidCredentials => "The email or password is wrong.",
            Self::InvalidRequest => "The request body is not valid JSON of the expected shape.",
            Self::InvalidEmail => "The email address is not valid.",
            Self::WeakPassword => "The password must be 8 to 72 bytes long.",
            Self::EmailTaken => "An account with this email already exists.",
            Self::PayloadTooLarge => "The request body is too large.",
            Self::UnsupportedMediaType => "The request body must be application/json.",
            Self::TooManyRequests => "Too many requests; try again later.",
            Self::ServiceUnavailable => {
                "A backing service did not answer in time; try again shortly."
            }
            Self::Forbidden => "This endpoint needs the admin token.",
            Self::CsrfFailed => {
                "This request needs the X-CSRF-Token header matching the session's CSRF cookie."
            }
            Self::TooManySessions => {
                "This account has the most sessions allowed; sign out another one first."
            }
            Self::NotFound => "There is nothing at this path.",
            Self::MethodNotAllowed => "This path does not accept that method.",
            Self::InvalidResetToken => {
                "This reset link is unknown, used or expired; ask for a new one."
            }
            Self::InvalidVerificationToken => {
                "This verification link is unknown, used or expired; ask for a new one."
            }
            Self::EmailNotVerified => {
                "This account's email is not verified yet; follow the link in the mail we sent."
            }
            Self::InternalError => "Something went wrong on our side.",
        }
    }

    /// True for codes where a credential was presented and refused (RFC 6750 `invalid_token`).
    pub fn refuses_credential(self) -> bool {
        matches!(
            self,
            Self::InvalidToken
                | Self::SessionExpired
                | Self::SessionNotFound
                | Self::SessionRevoked
        )
    }

    /// The `WWW-Authenticate` value a response with this code carries: every 401 has
    /// one, with `error="invalid_token"` when a credential was refused.
    pub fn www_authenticate(self) -> Option<&'static str> {
        match self.status() {
            401 if self.refuses_credential() => Some(REALM_INVALID),
            401 => Some(REALM),
            _ => None,
        }
    }

    /// The `Retry-After` seconds a response with this code carries by default (503).
    pub fn retry_after(self) -> Option<u64> {
        (self == Self::ServiceUnavailable).then_some(UNAVAILABLE_RETRY_AFTER_SECS)
    }
}

#[cfg(feature = "openapi")]
mod schema {
    use std::borrow::Cow;

    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::{PartialSchema, ToSchema};

    use super::ErrorCode;

    impl PartialSchema for ErrorCode {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("The contract's error code, snake_case."))
                .enum_values(Some(ErrorCode::ALL.iter().map(|code| code.as_str())))
                .into()
        }
    }

    impl ToSchema for ErrorCode {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("ErrorCode")
        }
    }
}

/// The contract's error body.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody<'a> {
    /// The snake_case code.
    #[cfg_attr(feature = "openapi", schema(value_type = ErrorCode))]
    pub error: &'a str,
    /// A human sentence.
    pub message: &'a str,
}

impl<'a> ErrorBody<'a> {
    /// The body for `code` with `message`.
    pub fn new(code: ErrorCode, message: &'a str) -> Self {
        Self {
            error: code.as_str(),
            message,
        }
    }

    /// The body as JSON bytes, as every adapter sends it.
    pub fn to_json(&self) -> Vec<u8> {
        // Two strings into a JSON object: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request's session was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No Authorization header.
    #[error("missing authorization")]
    MissingAuthorization,
    /// Authorization present, credential part empty.
    #[error("missing credential")]
    MissingUserId,
    /// Malformed, wrongly signed or of a refused scheme.
    #[error("invalid token")]
    InvalidToken,
    /// The token's `exp` has passed.
    #[error("session expired")]
    SessionExpired,
    /// No session in Redis for the user.
    #[error("session not found")]
    SessionNotFound,
    /// Redis holds a different token for the user.
    #[error("session revoked")]
    SessionRevoked,
    /// Redis or the auth-service did not answer in time.
    #[error("session store unavailable")]
    Unavailable,
    /// A cookie-authenticated unsafe request without the matching CSRF header.
    #[error("csrf check failed")]
    CsrfFailed,
}

impl AuthError {
    /// The contract's code for this error.
    pub fn code(self) -> ErrorCode {
        match self {
            Self::MissingAuthorization => ErrorCode::MissingAuthorization,
            Self::MissingUserId => ErrorCode::MissingUserId,
            Self::InvalidToken => ErrorCode::InvalidToken,
            Self::CsrfFailed => ErrorCode::CsrfFailed,
            Self::SessionExpired => ErrorCode::SessionExpired,
            Self::SessionNotFound => ErrorCode::SessionNotFound,
            Self::SessionRevoked => ErrorCode::SessionRevoked,
            Self::Unavailable => ErrorCode::ServiceUnavailable,
        }
    }
}

/// A session store call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Redis refused, failed or did not answer within the timeout.
    #[error("the session store did not answer in time")]
    Unavailable,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The signature and claims are right but `exp` has passed.
    #[error("token expired")]
    Expired,
    /// Malformed, wrongly signed, wrong algorithm, issuer, audience or key.
    #[error("token invalid")]
    Invalid,
    /// Signed with a key id this codec does not know (yet): worth one key refresh.
    #[error("token signed with an unknown key")]
    UnknownKey,
    /// This codec holds no signing key, or signing failed.
    #[error("token could not be signed")]
    Signing,
}

impl From<StoreError> for AuthError {
    fn from(_: StoreError) -> Self {
        AuthError::Unavailable
    }
}

impl From<TokenError> for AuthError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Expired => AuthError::SessionExpired,
            TokenError::Invalid | TokenError::UnknownKey | TokenError::Signing => {
                AuthError::InvalidToken
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn all_lists_every_code_once_in_order() {
        for (index, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as usize, index, "{code}");
        }
        // `InternalError` is declared last: a new code goes before it, and into ALL.
        assert_eq!(ErrorCode::ALL.len(), ErrorCode::InternalError as usize + 1);
    }
}
