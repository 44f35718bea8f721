//! A user's sessions: list, end one, end the others, end all, change the password;
//! and the admin's view of any user's sessions.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use session_core::Session;
use session_core::session::rfc3339;
use session_core::store::SessionRecord;

use super::account::{cleared, no_store, origin_of};
use super::callers::Admin;
use crate::accounts::Accounts;
use crate::error::ApiError;

/// One session as listed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    session_id: String,
    created_at: String,
    expires_at: String,
    absolute_expires_at: String,
    ip: Option<String>,
    user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<bool>,
}

#[derive(Serialize)]
struct SessionList {
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
#[tracing::instrument(skip_all)]
pub async fn list(
    accounts: web::Data<Accounts>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    let records = accounts.sessions(&session.user_id).await?;
    Ok(listed(records, Some(&session.session_id)))
}

/// `DELETE /sessions/{sessionId}`: ends one of the caller's sessions; 404 for any
/// other id.
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
#[tracing::instrument(skip_all)]
pub async fn log_out_others(
    accounts: web::Data<Accounts>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    accounts.log_out_others(&session).await?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}

/// `POST /logout/all`: ends every session of the caller, this one too.
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
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /password`: changes the password and ends every other session.
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
    accounts
        .change_password(
            &session,
            current_password,
            new_password,
            origin.ip.as_deref(),
        )
        .await?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}

/// `GET /admin/users/{userId}/sessions`: a user's live sessions.
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
#[tracing::instrument(skip_all)]
pub async fn admin_delete_user(
    _admin: Admin,
    accounts: web::Data<Accounts>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    accounts.delete_user(&path.into_inner()).await?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}
