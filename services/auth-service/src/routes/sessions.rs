//! A user's sessions: list, end one, end the others, end all, change the password;
//! and the admin's view of any user's sessions.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use session_actix::Session;
use session_core::session::rfc3339;
use session_core::store::SessionRecord;

use service_kit::error_responses;

use super::account::{
    LoggedIn, SessionRefusals, UnsafeSessionRefusals, cleared, no_store, origin_of, session_answer,
};
use super::callers::Admin;
use super::csrf::CsrfHeader;
use crate::accounts::Accounts;
use crate::error::ApiError;

/// One session as listed.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct Listed {
    /// The session's id (22 URL-safe base64 characters).
    #[schema(pattern = "^[A-Za-z0-9_-]{22}$", example = "q1w2e3r4t5y6u7i8o9p0aZ")]
    session_id: String,
    /// When the session was opened (RFC 3339, UTC).
    #[schema(format = DateTime, example = "2026-01-02T03:04:05Z")]
    created_at: String,
    /// When it ends if nothing more happens.
    #[schema(format = DateTime, example = "2026-01-02T15:04:05Z")]
    expires_at: String,
    /// The token's `exp`.
    #[schema(format = DateTime, example = "2026-01-02T15:04:05Z")]
    absolute_expires_at: String,
    /// The client's IP at login, when known.
    #[schema(example = "203.0.113.7")]
    ip: Option<String>,
    /// The client's User-Agent at login (at most 256 characters), when it sent one.
    #[schema(example = "Mozilla/5.0 (X11; Linux x86_64)")]
    user_agent: Option<String>,
    /// `GET /sessions` only: true for the session the request presented.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = true)]
    current: Option<bool>,
}

/// A user's live sessions, newest first.
#[derive(Serialize, utoipa::ToSchema)]
struct SessionList {
    /// The sessions, newest first.
    sessions: Vec<Listed>,
}

fn listed(records: Vec<SessionRecord>, current: Option<&str>) -> HttpResponse {
    let sessions = records
        .into_iter()
        .map(|r| Listed {
            current: current.map(|id| id == r.session_id),
            session_id: r.session_id,
            created_at: rfc3339(r.created_at),
            expires_at: rfc3339(r.expires_at),
            absolute_expires_at: rfc3339(r.absolute_expires_at),
            ip: r.origin.ip,
            user_agent: r.origin.user_agent,
        })
        .collect();
    no_store(HttpResponse::Ok()).json(SessionList { sessions })
}

/// `GET /sessions`: the caller's live sessions, newest first, this one marked.
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "sessions",
    operation_id = "listSessions",
    summary = "The caller's sessions",
    description = "Every live session of the caller's user, newest first, the presented one marked `current`. In `single` mode that is the one session.",
    security(("sessionBearer" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The sessions.", body = SessionList,
            headers(("Cache-Control" = String, description = "`no-store`."))),
        SessionRefusals,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list(
    accounts: web::Data<Accounts>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    let records = accounts.sessions(&session.user_id).await?;
    Ok(listed(records, Some(&session.session_id)))
}

error_responses!(
    /// What `DELETE /sessions/{sessionId}` refuses with.
    EndSessionErrors: MissingAuthorization, MissingUserId, InvalidToken, SessionExpired,
        SessionNotFound, SessionRevoked, CsrfFailed, NotFound, ServiceUnavailable
);

/// `DELETE /sessions/{sessionId}`: ends one of the caller's sessions; 404 for any
/// other id.
#[utoipa::path(
    delete,
    path = "/sessions/{sessionId}",
    tag = "sessions",
    operation_id = "endSession",
    summary = "End one of the caller's sessions",
    description = "Ends the named session of the caller's user (the presented one too, if named). An id that is not one of the caller's live sessions is `404 not_found`.",
    params(
        ("sessionId" = String, Path, description = "The session's id, as `GET /sessions` lists it.", example = "q1w2e3r4t5y6u7i8o9p0aZ"),
        CsrfHeader,
    ),
    security(("sessionBearer" = []), ("sessionCookie" = [])),
    responses(
        (status = 204, description = "The session ended.",
            headers(("Cache-Control" = String, description = "`no-store`."))),
        EndSessionErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn end_one(
    accounts: web::Data<Accounts>,
    session: Session,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    accounts.end_session(&session, &path.into_inner()).await?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}

/// `POST /logout/others`: ends every session of the caller but this one.
#[utoipa::path(
    post,
    path = "/logout/others",
    tag = "sessions",
    operation_id = "logOutOthers",
    summary = "End every other session",
    description = "Every other session of the caller's user ends; the presented one stays.",
    params(CsrfHeader),
    security(("sessionBearer" = []), ("sessionCookie" = [])),
    responses(
        (status = 204, description = "The other sessions ended.",
            headers(("Cache-Control" = String, description = "`no-store`."))),
        UnsafeSessionRefusals,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn log_out_others(
    accounts: web::Data<Accounts>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    accounts.log_out_others(&session).await?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}

/// `POST /logout/all`: ends every session of the caller, this one too.
#[utoipa::path(
    post,
    path = "/logout/all",
    tag = "sessions",
    operation_id = "logOutAll",
    summary = "End every session",
    description = "Every session of the caller's user ends, the presented one too.",
    params(CsrfHeader),
    security(("sessionBearer" = []), ("sessionCookie" = [])),
    responses(
        (status = 204, description = "Every session ended.",
            headers(
                ("Cache-Control" = String, description = "`no-store`."),
                ("Set-Cookie" = String, description = "When the service uses cookies: both session cookies cleared (`Max-Age=0`)."),
            )),
        UnsafeSessionRefusals,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn log_out_all(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    accounts.log_out_all(&session).await?;
    Ok(cleared(&req, no_store(HttpResponse::NoContent())).finish())
}

/// Body of `POST /password`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    /// The password now.
    #[schema(example = "correct horse battery")]
    current_password: String,
    /// The new password: 8 to 72 bytes (UTF-8).
    #[schema(min_length = 8, max_length = 72, example = "battery staple horse")]
    new_password: String,
}

error_responses!(
    /// What `POST /password` refuses with.
    PasswordErrors: MissingAuthorization, MissingUserId, InvalidToken, SessionExpired,
        SessionNotFound, SessionRevoked, InvalidCredentials, CsrfFailed, InvalidRequest,
        UnsupportedMediaType, PayloadTooLarge, WeakPassword, TooManyRequests,
        ServiceUnavailable
);

/// `POST /password`: changes the password and ends every other session.
#[utoipa::path(
    post,
    path = "/password",
    tag = "account",
    operation_id = "changePassword",
    summary = "Change the password",
    description = "Changes the caller's password, ends every other session of theirs (also one whose login was running while the password changed) and rotates the caller's session: the answer is in login's shape with a new token. A wrong current password is `401 invalid_credentials`, throttled like login (`429`).",
    params(CsrfHeader),
    request_body(content = PasswordChange, content_type = "application/json"),
    security(("sessionBearer" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "Changed; every other session ended, and this one rotated: a new `token` (the same `sessionId` and ends); the old token is refused. With the cookie credential: new cookies, no `token`.", body = LoggedIn,
            headers(
                ("Cache-Control" = String, description = "`no-store`."),
                ("Set-Cookie" = String, description = "With the cookie credential: both session cookies again, for the rotated session."),
            )),
        PasswordErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn change_password(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    session: Session,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let PasswordChange {
        current_password,
        new_password,
    } = body.into_inner();
    let origin = origin_of(&req);
    let rotated = accounts
        .change_password(
            &session,
            current_password,
            new_password,
            origin.ip.as_deref(),
        )
        .await?;
    // A browser that came with the cookie gets the rotated session as cookies.
    let by_cookie = !req
        .headers()
        .contains_key(actix_web::http::header::AUTHORIZATION);
    Ok(session_answer(&req, rotated, by_cookie))
}

error_responses!(
    /// What the admin endpoints refuse with (an id that is no userId names no user:
    /// `not_found`).
    AdminErrors: Forbidden, NotFound, ServiceUnavailable
);

/// `GET /admin/users/{userId}/sessions`: a user's live sessions.
#[utoipa::path(
    get,
    path = "/admin/users/{userId}/sessions",
    tag = "admin",
    operation_id = "adminListSessions",
    summary = "A user's sessions",
    description = "Every live session of the user, newest first (no `current`). A token that is not `admin.token` (or none while it is unset) is `403 forbidden`.",
    params(("userId" = String, Path, description = "The user's id (24 hex characters).", example = "65f1c0ffee65f1c0ffee0001")),
    security(("adminToken" = [])),
    responses(
        (status = 200, description = "The sessions.", body = SessionList,
            headers(("Cache-Control" = String, description = "`no-store`."))),
        AdminErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn admin_list(
    _admin: Admin,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let records = accounts.admin_sessions(&path.into_inner()).await?;
    Ok(listed(records, None))
}

/// `DELETE /admin/users/{userId}/sessions`: ends every session of a user.
#[utoipa::path(
    delete,
    path = "/admin/users/{userId}/sessions",
    tag = "admin",
    operation_id = "adminEndSessions",
    summary = "End every session of a user",
    description = "Every session of the user ends (a user with none gets `204` too).",
    params(("userId" = String, Path, description = "The user's id (24 hex characters).", example = "65f1c0ffee65f1c0ffee0001")),
    security(("adminToken" = [])),
    responses(
        (status = 204, description = "Every session of the user ended.",
            headers(("Cache-Control" = String, description = "`no-store`."))),
        AdminErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn admin_end(
    _admin: Admin,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    accounts.admin_end_sessions(&path.into_inner()).await?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}

/// `DELETE /admin/users/{userId}`: deletes the user and ends every session of theirs.
#[utoipa::path(
    delete,
    path = "/admin/users/{userId}",
    tag = "admin",
    operation_id = "adminDeleteUser",
    summary = "Delete a user",
    description = "Deletes the user and ends every session of theirs in the same step. An unknown user is `404 not_found`.",
    params(("userId" = String, Path, description = "The user's id (24 hex characters).", example = "65f1c0ffee65f1c0ffee0001")),
    security(("adminToken" = [])),
    responses(
        (status = 204, description = "The user and their sessions are gone.",
            headers(("Cache-Control" = String, description = "`no-store`."))),
        AdminErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn admin_delete_user(
    _admin: Admin,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    accounts.delete_user(&path.into_inner()).await?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}
