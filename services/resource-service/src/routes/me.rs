//! `GET /me`: who the session says the caller is.

use actix_web::{HttpResponse, http::header};
use serde::Serialize;
use session_actix::Session;
use session_core::session::rfc3339;

/// The user the presented session belongs to.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct Me {
    /// The user's id (24 lowercase hex characters).
    #[schema(pattern = "^[0-9a-f]{24}$", example = "65f1c0ffee65f1c0ffee0001")]
    user_id: String,
    /// The user's email.
    #[schema(example = "ada@example.com")]
    email: String,
    /// When the session ends if nothing more happens (RFC 3339, UTC).
    #[schema(format = DateTime, example = "2026-01-02T15:04:05Z")]
    expires_at: String,
}

service_kit::error_responses!(
    /// What `GET /me` refuses with.
    MeErrors: MissingAuthorization, MissingUserId, InvalidToken, SessionExpired,
        SessionNotFound, SessionRevoked, ServiceUnavailable
);

/// `GET /me`: the user the presented session belongs to.
#[utoipa::path(
    get,
    path = "/me",
    tag = "resource",
    operation_id = "me",
    summary = "Who the session says the caller is",
    description = "The protected example endpoint: answers only for a live session, validated against Redis (or, with `validation.mode = remote`, by the auth-service's `/introspect`). In seed mode a bare userId is accepted too.",
    security(("sessionBearer" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The caller.", body = Me,
            headers(("Cache-Control" = String, description = "`no-store`."))),
        MeErrors,
    )
)]
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %session.user_id))]
pub async fn me(session: Session) -> HttpResponse {
    let session = session.into_inner();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Me {
            user_id: session.user_id,
            email: session.email,
            expires_at: rfc3339(session.expires_at),
        })
}
