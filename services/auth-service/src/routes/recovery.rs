//! `POST /password/forgot`, `POST /password/reset`, `POST /email/verify`,
//! `POST /email/verify/resend`. Without `mail.smtp_url` each answers `404 not_found`
//! before it reads its body.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use service_kit::error_responses;
use session_core::ErrorCode;

use super::account::{no_store, origin_of};
use crate::accounts::Accounts;
use crate::error::ApiError;
use crate::recovery::Recovery;

/// Body of `/password/forgot` and `/email/verify/resend`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "ada@example.com"}))]
pub struct EmailOnly {
    /// The account's email (any string: the answer is the same).
    #[schema(example = "ada@example.com")]
    pub email: String,
}

/// Body of `/password/reset`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"token": "q1w2e3r4t5y6u7i8o9p0aZq1w2e3r4t5y6u7i8o9p0a", "newPassword": "battery staple horse"}))]
pub struct ResetPassword {
    /// The token from the reset mail's link (43 URL-safe base64 characters).
    #[schema(
        pattern = "^[A-Za-z0-9_-]{43}$",
        example = "q1w2e3r4t5y6u7i8o9p0aZq1w2e3r4t5y6u7i8o9p0a"
    )]
    pub token: String,
    /// The new password: 8 to 72 bytes (UTF-8).
    #[schema(min_length = 8, max_length = 72, example = "battery staple horse")]
    pub new_password: String,
}

/// Body of `/email/verify`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"token": "q1w2e3r4t5y6u7i8o9p0aZq1w2e3r4t5y6u7i8o9p0a"}))]
pub struct VerifyEmail {
    /// The token from the verification mail's link (43 URL-safe base64 characters).
    #[schema(
        pattern = "^[A-Za-z0-9_-]{43}$",
        example = "q1w2e3r4t5y6u7i8o9p0aZq1w2e3r4t5y6u7i8o9p0a"
    )]
    pub token: String,
}

/// The empty object `/password/forgot` and `/email/verify/resend` answer.
#[derive(Serialize, utoipa::ToSchema)]
struct Accepted {}

/// Recovery, or `404 not_found` when mail is off.
fn recovery(accounts: &Accounts) -> Result<&Recovery, ApiError> {
    accounts
        .recovery()
        .ok_or(ApiError::new(ErrorCode::NotFound))
}

fn accepted() -> HttpResponse {
    no_store(HttpResponse::Accepted()).json(Accepted {})
}

error_responses!(
    /// What `/password/forgot` and `/email/verify/resend` refuse with.
    MailRequestErrors: InvalidRequest, UnsupportedMediaType, PayloadTooLarge, NotFound,
        TooManyRequests, ServiceUnavailable
);

/// `POST /password/forgot`: 202, and a reset mail when the account exists.
#[utoipa::path(
    post,
    path = "/password/forgot",
    tag = "recovery",
    operation_id = "forgotPassword",
    summary = "Ask for a password reset mail",
    description = "Answers `202 {}` for any JSON body with an `email` string, whether or not an account has that address, after the same work either way. When it has, a mail with a link to `/reset#token=...` (working once, for `recovery.token_ttl_seconds`) is sent off the request path; at most `recovery.max_per_email_per_hour` reset and verification mails go to one address per hour (over it: still `202`, nothing sent). Requests to this endpoint, `/password/reset` and `/email/verify/resend` are limited per client IP (`recovery.max_per_ip_per_hour`, then `429`). Without `mail.smtp_url`: `404`.",
    request_body(content = EmailOnly, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted; a mail goes out if the account exists.", body = Accepted,
            headers(("Cache-Control" = String, description = "`no-store`."))),
        MailRequestErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn forgot(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: Result<web::Json<EmailOnly>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let recovery = recovery(&accounts)?;
    let body = body?;
    recovery
        .forgot(&body.email, origin_of(&req).ip.as_deref())
        .await
        .map_err(ApiError::from)?;
    Ok(accepted())
}

error_responses!(
    /// What `/password/reset` refuses with.
    ResetErrors: InvalidRequest, InvalidResetToken, UnsupportedMediaType, PayloadTooLarge,
        NotFound, WeakPassword, TooManyRequests, ServiceUnavailable
);

/// `POST /password/reset`: a new password with a mailed token; every session ends.
#[utoipa::path(
    post,
    path = "/password/reset",
    tag = "recovery",
    operation_id = "resetPassword",
    summary = "Reset the password with a mailed token",
    description = "Checks the new password like sign-up (`422 weak_password` leaves the token usable), then in one step consumes the token (only the user's newest works, once), sets the new password, marks the email verified, ends every session of the user and clears the failed logins counted for the email. A token that is unknown, used, expired, replaced by a newer one, malformed or empty: `400 invalid_reset_token`. Limited per client IP with `/password/forgot` and `/email/verify/resend`. Without `mail.smtp_url`: `404`.",
    request_body(content = ResetPassword, content_type = "application/json"),
    responses(
        (status = 204, description = "The password changed; every session of the user ended.",
            headers(("Cache-Control" = String, description = "`no-store`."))),
        ResetErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn reset(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: Result<web::Json<ResetPassword>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let recovery = recovery(&accounts)?;
    let ResetPassword {
        token,
        new_password,
    } = body?.into_inner();
    recovery
        .reset(&token, new_password, origin_of(&req).ip.as_deref())
        .await
        .map_err(ApiError::from)?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}

error_responses!(
    /// What `/email/verify` refuses with.
    VerifyEmailErrors: InvalidRequest, InvalidVerificationToken, UnsupportedMediaType,
        PayloadTooLarge, NotFound, ServiceUnavailable
);

/// `POST /email/verify`: verifies the account's email with a mailed token.
#[utoipa::path(
    post,
    path = "/email/verify",
    tag = "recovery",
    operation_id = "verifyEmail",
    summary = "Verify the email with a mailed token",
    description = "Consumes the token of a verification mail (only the newest works, once, for `recovery.verify_ttl_seconds`) and marks the account's email verified; login then works. A bad token: `400 invalid_verification_token`. Without `mail.smtp_url`: `404`.",
    request_body(content = VerifyEmail, content_type = "application/json"),
    responses(
        (status = 204, description = "The email is verified.",
            headers(("Cache-Control" = String, description = "`no-store`."))),
        VerifyEmailErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn verify(
    accounts: web::Data<Accounts>,
    body: Result<web::Json<VerifyEmail>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let recovery = recovery(&accounts)?;
    let body = body?;
    recovery.verify(&body.token).await.map_err(ApiError::from)?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}

/// `POST /email/verify/resend`: 202, and a new verification mail when it is due.
#[utoipa::path(
    post,
    path = "/email/verify/resend",
    tag = "recovery",
    operation_id = "resendVerification",
    summary = "Ask for a new verification mail",
    description = "Answers `202 {}` for any JSON body with an `email` string, after the same work whatever the address. When an account with that address waits for verification, a new mail goes out off the request path and the previous link stops working (within `recovery.max_per_email_per_hour`). Limited per client IP with `/password/forgot` and `/password/reset`. Without `mail.smtp_url`: `404`.",
    request_body(content = EmailOnly, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted; a mail goes out if it is due.", body = Accepted,
            headers(("Cache-Control" = String, description = "`no-store`."))),
        MailRequestErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn resend(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: Result<web::Json<EmailOnly>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let recovery = recovery(&accounts)?;
    let body = body?;
    recovery
        .resend(&body.email, origin_of(&req).ip.as_deref())
        .await
        .map_err(ApiError::from)?;
    Ok(accepted())
}
