//! `POST /signup`, `POST /login`, `POST /logout`, `GET /session`.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use serde::{Deserialize, Serialize};
use session_core::ErrorCode;
use session_core::Session;
use session_core::http::CookiePolicy;
use session_core::session::rfc3339;
use session_core::token::{Origin, new_session_id};

use crate::accounts::{AccountError, Accounts};
use crate::error::ApiError;

/// Body of sign-up and login.
#[derive(Deserialize)]
pub struct Credentials {
    /// The email, as typed.
    pub email: String,
    /// The password.
    pub password: String,
    /// Login: set the session as a cookie (and leave the token out of the body).
    #[serde(default)]
    pub cookie: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignedUp {
    user_id: String,
    email: String,
    created_at: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoggedIn {
    user_id: String,
    session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    token_type: &'static str,
    expires_at: String,
    expires_in: i64,
    reused: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionInfo {
    user_id: String,
    session_id: String,
    email: String,
    issued_at: String,
    expires_at: String,
    absolute_expires_at: String,
}

/// A session's id and ends, as `/session/refresh` answers them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Refreshed {
    user_id: String,
    session_id: String,
    expires_at: String,
    absolute_expires_at: String,
}

/// The most characters of a User-Agent recorded for `GET /sessions`.
const MAX_USER_AGENT_CHARS: usize = 256;

/// Where a request comes from: the socket's peer address and the User-Agent (cut).
pub(crate) fn origin_of(req: &HttpRequest) -> Origin {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(MAX_USER_AGENT_CHARS).collect());
    Origin {
        ip: req.peer_addr().map(|addr| addr.ip().to_string()),
        user_agent,
    }
}

/// A cookie-authenticated request whose session's idle deadline moved gets its cookies
/// again with the new Max-Age, so the browser keeps them as long as the session lives.
fn renewed(req: &HttpRequest, res: &mut actix_web::HttpResponseBuilder, expires_at: i64) {
    if let Some(policy) = req.app_data::<CookiePolicy>() {
        policy.renew(req, res, Accounts::seconds_left(expires_at));
    }
}

/// Clears the session cookies when the app has them (logout ends this session).
pub(crate) fn cleared(
    req: &HttpRequest,
    mut builder: actix_web::HttpResponseBuilder,
) -> actix_web::HttpResponseBuilder {
    if let Some(policy) = req.app_data::<CookiePolicy>() {
        policy.clear(&mut builder);
    }
    builder
}

pub(crate) fn no_store(
    mut builder: actix_web::HttpResponseBuilder,
) -> actix_web::HttpResponseBuilder {
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder.insert_header((header::PRAGMA, "no-cache"));
    builder
}

/// `POST /signup`: registers an email and password; 201 with the new user.
#[tracing::instrument(skip_all)]
pub async fn sign_up(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let Credentials {
        email, password, ..
    } = body.into_inner();
    let ip = origin_of(&req).ip;
    let user = accounts.sign_up(&email, password, ip.as_deref()).await?;
    let created_at = user.created_at.timestamp_millis().div_euclid(1000);
    Ok(no_store(HttpResponse::Created()).json(SignedUp {
        user_id: user.id.to_hex(),
        email: user.email,
        created_at: rfc3339(created_at),
    }))
}

/// `POST /login`: checks the password and answers the user's session token.
#[tracing::instrument(skip_all)]
pub async fn log_in(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let Credentials {
        email,
        password,
        cookie,
    } = body.into_inner();
    let outcome = accounts.log_in(&email, password, origin_of(&req)).await;
    let label = match &outcome {
        Ok(_) => "success",
        Err(AccountError::InvalidCredentials) => "invalid_credentials",
        Err(AccountError::TooManyRequests(_)) => "throttled",
        Err(_) => "unavailable",
    };
    session_core::measure::count("logins_total", "outcome", label);
    let outcome = outcome?;
    let expires_in = Accounts::seconds_left(outcome.expires_at);
    let mut res = no_store(HttpResponse::Ok());
    // A browser gets the session as an HttpOnly cookie, never in a body its scripts
    // (or an injected one) could read.
    let policy = req.app_data::<CookiePolicy>().filter(|_| cookie);
    let token = match policy {
        Some(policy) => {
            let csrf = new_session_id().map_err(|_| ApiError::new(ErrorCode::InternalError))?;
            policy.set(&mut res, &outcome.token, &csrf, expires_in);
            None
        }
        None => Some(outcome.token),
    };
    Ok(res.json(LoggedIn {
        user_id: outcome.user_id,
        session_id: outcome.session_id,
        token,
        token_type: "Bearer",
        expires_at: rfc3339(outcome.expires_at),
        expires_in,
        reused: outcome.reused,
    }))
}

/// `POST /logout`: ends the presented session; 204.
#[tracing::instrument(skip_all)]
pub async fn log_out(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    // Seed mode's bare userId proves nothing: it may read a session, never end one.
    if matches!(
        session_core::http::credential_of(&req, true),
        Ok(session_core::Credential::UserId(_))
    ) {
        return Err(ApiError::new(session_core::ErrorCode::InvalidToken));
    }
    accounts.log_out(&session).await?;
    Ok(cleared(&req, no_store(HttpResponse::NoContent())).finish())
}

/// `GET /session`: who the presented session belongs to and when it ends.
#[tracing::instrument(skip_all)]
pub async fn session(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    let session = accounts.used(session).await?;
    let mut res = no_store(HttpResponse::Ok());
    renewed(&req, &mut res, session.expires_at);
    Ok(res.json(SessionInfo {
        user_id: session.user_id,
        session_id: session.session_id,
        email: session.email,
        issued_at: rfc3339(session.issued_at),
        expires_at: rfc3339(session.expires_at),
        absolute_expires_at: rfc3339(session.absolute_expires_at),
    }))
}

/// `POST /session/refresh`: pushes the idle deadline forward; the token stays the same.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    let expires_at = accounts.refresh(&session).await?;
    let mut res = no_store(HttpResponse::Ok());
    renewed(&req, &mut res, expires_at);
    Ok(res.json(Refreshed {
        user_id: session.user_id,
        session_id: session.session_id,
        expires_at: rfc3339(expires_at),
        absolute_expires_at: rfc3339(session.absolute_expires_at),
    }))
}
