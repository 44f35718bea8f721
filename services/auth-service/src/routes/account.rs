//! `POST /signup`, `POST /login`, `POST /logout`, `GET /session`.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use serde::{Deserialize, Serialize};
use service_kit::error_responses;
use service_kit::forwarded::{TrustedProxies, X_FORWARDED_FOR};
use session_actix::Session;
use session_core::CookiePolicy;
use session_core::session::rfc3339;
use session_core::token::Origin;

use super::csrf::CsrfHeader;
use crate::accounts::{AccountError, Accounts, LoginOutcome};
use crate::error::ApiError;

/// Body of sign-up and login.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse battery"}))]
pub struct Credentials {
    /// The email. Sign-up normalises it (NFKC, lowercase) and refuses one already
    /// registered, compared case-insensitively.
    #[schema(format = Email, example = "ada@example.com")]
    pub email: String,
    /// The password: 8 to 72 bytes (UTF-8).
    #[schema(min_length = 8, max_length = 72, example = "correct horse battery")]
    pub password: String,
    /// Login only: also set the session as the `__Host-session` cookie (with its CSRF
    /// cookie) and leave `token` out of the body.
    #[serde(default)]
    pub cookie: bool,
}

/// A new user.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SignedUp {
    /// The user's id: their MongoDB ObjectId, 24 lowercase hex characters.
    #[schema(pattern = "^[0-9a-f]{24}$", example = "65f1c0ffee65f1c0ffee0001")]
    user_id: String,
    /// The email as stored (normalised).
    #[schema(example = "ada@example.com")]
    email: String,
    /// When the user signed up (RFC 3339, UTC).
    #[schema(format = DateTime, example = "2026-01-02T03:04:05Z")]
    created_at: String,
}

/// The user's session.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoggedIn {
    /// The user's id (24 lowercase hex characters).
    #[schema(pattern = "^[0-9a-f]{24}$", example = "65f1c0ffee65f1c0ffee0001")]
    user_id: String,
    /// The session's id (22 URL-safe base64 characters).
    #[schema(pattern = "^[A-Za-z0-9_-]{22}$", example = "q1w2e3r4t5y6u7i8o9p0aZ")]
    session_id: String,
    /// The session token (a JWT) to send as `Authorization: Bearer <token>`; absent
    /// when the login asked for the cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NWYxIn0.c2lnbmF0dXJl")]
    token: Option<String>,
    /// Always `Bearer`.
    #[schema(value_type = String, pattern = "^Bearer$", example = "Bearer")]
    token_type: &'static str,
    /// When the session ends if nothing more happens (RFC 3339, UTC).
    #[schema(format = DateTime, example = "2026-01-02T15:04:05Z")]
    expires_at: String,
    /// Whole seconds until `expiresAt`.
    #[schema(minimum = 0, example = 43200)]
    expires_in: i64,
    /// True when login returned the session that already existed (`single` mode).
    #[schema(example = false)]
    reused: bool,
}

/// Who the session belongs to and when it ends.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SessionInfo {
    /// The user's id (24 lowercase hex characters).
    #[schema(pattern = "^[0-9a-f]{24}$", example = "65f1c0ffee65f1c0ffee0001")]
    user_id: String,
    /// The session's id (22 URL-safe base64 characters).
    #[schema(pattern = "^[A-Za-z0-9_-]{22}$", example = "q1w2e3r4t5y6u7i8o9p0aZ")]
    session_id: String,
    /// The user's email.
    #[schema(example = "ada@example.com")]
    email: String,
    /// When the session was opened (RFC 3339, UTC).
    #[schema(format = DateTime, example = "2026-01-02T03:04:05Z")]
    issued_at: String,
    /// When it ends if nothing more happens: the idle deadline or
    /// `absoluteExpiresAt`, whichever is first.
    #[schema(format = DateTime, example = "2026-01-02T15:04:05Z")]
    expires_at: String,
    /// The token's `exp`: nothing extends the session past it.
    #[schema(format = DateTime, example = "2026-01-02T15:04:05Z")]
    absolute_expires_at: String,
}

/// A session's id and ends, as `/session/refresh` answers them.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct Refreshed {
    /// The user's id (24 lowercase hex characters).
    #[schema(pattern = "^[0-9a-f]{24}$", example = "65f1c0ffee65f1c0ffee0001")]
    user_id: String,
    /// The session's id (22 URL-safe base64 characters).
    #[schema(pattern = "^[A-Za-z0-9_-]{22}$", example = "q1w2e3r4t5y6u7i8o9p0aZ")]
    session_id: String,
    /// The new idle deadline (or `absoluteExpiresAt`, whichever is first).
    #[schema(format = DateTime, example = "2026-01-02T15:04:05Z")]
    expires_at: String,
    /// The token's `exp`.
    #[schema(format = DateTime, example = "2026-01-02T15:04:05Z")]
    absolute_expires_at: String,
}

/// The most characters of a User-Agent recorded for `GET /sessions`.
const MAX_USER_AGENT_CHARS: usize = 256;

/// The client's address: the socket's peer, or behind trusted proxies
/// (`server.trusted_proxies`) the address `X-Forwarded-For` gives.
pub(crate) fn client_ip(req: &HttpRequest) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    Some(match req.app_data::<web::Data<TrustedProxies>>() {
        Some(proxies) if !proxies.is_empty() => {
            let forwarded = req.headers().get_all(X_FORWARDED_FOR);
            proxies.client(peer, forwarded.map(|v| v.as_bytes()))
        }
        _ => peer,
    })
}

/// Where a request comes from: the client's address and the User-Agent (cut).
pub(crate) fn origin_of(req: &HttpRequest) -> Origin {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(MAX_USER_AGENT_CHARS).collect());
    Origin {
        ip: client_ip(req).map(|ip| ip.to_string()),
        user_agent,
    }
}

/// A cookie-authenticated request whose session's idle deadline moved gets its cookies
/// again with the new Max-Age, so the browser keeps them as long as the session lives.
fn renewed(req: &HttpRequest, res: &mut actix_web::HttpResponseBuilder, expires_at: i64) {
    if let Some(policy) = req.app_data::<CookiePolicy>() {
        session_actix::cookie::renew(policy, req, res, Accounts::seconds_left(expires_at));
    }
}

/// Clears the session cookies when the app has them (logout ends this session).
pub(crate) fn cleared(
    req: &HttpRequest,
    mut builder: actix_web::HttpResponseBuilder,
) -> actix_web::HttpResponseBuilder {
    if let Some(policy) = req.app_data::<CookiePolicy>() {
        session_actix::cookie::clear(policy, &mut builder);
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

error_responses!(
    /// What `POST /signup` refuses with.
    SignUpErrors: InvalidRequest, UnsupportedMediaType, PayloadTooLarge, InvalidEmail,
        WeakPassword, EmailTaken, TooManyRequests, ServiceUnavailable
);

/// `POST /signup`: registers an email and password; 201 with the new user.
#[utoipa::path(
    post,
    path = "/signup",
    tag = "account",
    operation_id = "signUp",
    summary = "Sign up",
    description = "Registers an email and a password (8 to 72 bytes). Sign-ups are limited per client IP (`signup.max_per_ip_per_hour`) and for the whole service (`signup.max_per_minute`): beyond either, `429`.",
    request_body(content = Credentials, content_type = "application/json"),
    responses(
        (status = 201, description = "The user was created.", body = SignedUp,
            headers(("Cache-Control" = String, description = "`no-store`.")),
            links(
                ("logIn" = (operation_id = "logIn", description = "Log in as the new user.",
                    request_body = json!({"email": "$request.body#/email", "password": "$request.body#/password", "cookie": false}))),
                ("adminListSessions" = (operation_id = "adminListSessions", description = "The new user's sessions, as an admin sees them.",
                    parameters(("userId" = "$response.body#/userId")))),
                ("adminDeleteUser" = (operation_id = "adminDeleteUser", description = "Delete the new user, as an admin.",
                    parameters(("userId" = "$response.body#/userId")))),
            )),
        SignUpErrors,
    )
)]
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

error_responses!(
    /// What `POST /login` refuses with.
    LogInErrors: InvalidRequest, UnsupportedMediaType, PayloadTooLarge, InvalidCredentials,
        EmailNotVerified, TooManyRequests, TooManySessions, ServiceUnavailable
);

/// `POST /login`: checks the password and answers the user's session token.
#[utoipa::path(
    post,
    path = "/login",
    tag = "account",
    operation_id = "logIn",
    summary = "Log in",
    description = "Checks the password and answers the user's session: in `single` mode the live one if there is one (`reused: true`), else a new one. An unknown email and a wrong password get the same `401`, after about the same work. Failed logins are throttled per email and per client IP (`429` with `Retry-After`; while throttled even the right password gets it). With `\"cookie\": true` the session is set as the `__Host-session` cookie (and a CSRF cookie) instead of `token`.",
    request_body(content = Credentials, content_type = "application/json"),
    responses(
        (status = 200, description = "The session.", body = LoggedIn,
            headers(
                ("Cache-Control" = String, description = "`no-store`."),
                ("Set-Cookie" = String, description = "Only with `\"cookie\": true`: `__Host-session=<token>; Max-Age=<expiresIn>; Path=/; Secure; SameSite=Lax; HttpOnly`, and `__Host-session-csrf=<value>` (readable by the page's script; send it back as `X-CSRF-Token`)."),
            ),
            links(
                ("getSession" = (operation_id = "getSession", description = "The session just opened.",
                    parameters(("header.Authorization" = "Bearer {$response.body#/token}")))),
                ("refreshSession" = (operation_id = "refreshSession", description = "Push its idle deadline forward.",
                    parameters(("header.Authorization" = "Bearer {$response.body#/token}")))),
                ("listSessions" = (operation_id = "listSessions", description = "The user's sessions.",
                    parameters(("header.Authorization" = "Bearer {$response.body#/token}")))),
                ("endSession" = (operation_id = "endSession", description = "End this session by its id.",
                    parameters(
                        ("sessionId" = "$response.body#/sessionId"),
                        ("header.Authorization" = "Bearer {$response.body#/token}"),
                    ))),
                ("logOut" = (operation_id = "logOut", description = "End the session just opened.",
                    parameters(("header.Authorization" = "Bearer {$response.body#/token}")))),
                ("changePassword" = (operation_id = "changePassword", description = "Change the password just used.",
                    parameters(("header.Authorization" = "Bearer {$response.body#/token}")),
                    request_body = json!({"currentPassword": "$request.body#/password", "newPassword": "battery staple horse"}))),
            )),
        LogInErrors,
    )
)]
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
        Err(AccountError::EmailNotVerified) => "email_not_verified",
        Err(_) => "unavailable",
    };
    session_core::measure::count("logins_total", "outcome", label);
    Ok(session_answer(&req, outcome?, cookie))
}

/// A session as login answers it (also `POST /password`'s rotated session): `200` in
/// login's shape; with `cookie` and cookies on, the session as new cookies and no
/// `token` in the body (a browser's scripts never see it).
pub(crate) fn session_answer(
    req: &HttpRequest,
    outcome: LoginOutcome,
    cookie: bool,
) -> HttpResponse {
    let expires_in = Accounts::seconds_left(outcome.expires_at);
    let mut res = no_store(HttpResponse::Ok());
    let policy = req.app_data::<CookiePolicy>().filter(|_| cookie);
    let token = match policy {
        Some(policy) => {
            session_actix::cookie::set(policy, &mut res, &outcome.token, expires_in);
            None
        }
        None => Some(outcome.token),
    };
    res.json(LoggedIn {
        user_id: outcome.user_id,
        session_id: outcome.session_id,
        token,
        token_type: "Bearer",
        expires_at: rfc3339(outcome.expires_at),
        expires_in,
        reused: outcome.reused,
    })
}

error_responses!(
    /// What `POST /logout` refuses with (a seed-mode bare userId may not end a session:
    /// `invalid_token`).
    LogOutErrors: MissingAuthorization, MissingUserId, InvalidToken, SessionExpired,
        SessionNotFound, SessionRevoked, CsrfFailed, ServiceUnavailable
);

/// `POST /logout`: ends the presented session; 204.
#[utoipa::path(
    post,
    path = "/logout",
    tag = "account",
    operation_id = "logOut",
    summary = "Log out",
    description = "Ends the presented session: its key is gone from Redis, so every service refuses it at once. A seed-mode bare userId can read a session but never end one (`401 invalid_token`).",
    params(CsrfHeader),
    security(("sessionBearer" = []), ("sessionCookie" = [])),
    responses(
        (status = 204, description = "The session ended.",
            headers(
                ("Cache-Control" = String, description = "`no-store`."),
                ("Set-Cookie" = String, description = "When the service uses cookies: both session cookies cleared (`Max-Age=0`)."),
            )),
        LogOutErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn log_out(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    // Seed mode's bare userId proves nothing: it may read a session, never end one.
    if matches!(
        session_core::request::authorization(&session_actix::Headers(req.headers()), true),
        Ok(session_core::Credential::UserId(_))
    ) {
        return Err(ApiError::new(session_core::ErrorCode::InvalidToken));
    }
    accounts.log_out(&session).await?;
    Ok(cleared(&req, no_store(HttpResponse::NoContent())).finish())
}

error_responses!(
    /// What `GET /session` refuses with.
    pub(crate) SessionRefusals: MissingAuthorization, MissingUserId, InvalidToken,
        SessionExpired, SessionNotFound, SessionRevoked, ServiceUnavailable
);

error_responses!(
    /// What an unsafe request (POST, DELETE) that needs a session refuses with: the
    /// refusals of [`SessionRefusals`], and `csrf_failed` for a cookie without its
    /// `X-CSRF-Token`.
    pub(crate) UnsafeSessionRefusals: MissingAuthorization, MissingUserId, InvalidToken,
        SessionExpired, SessionNotFound, SessionRevoked, CsrfFailed, ServiceUnavailable
);

/// `GET /session`: who the presented session belongs to and when it ends.
#[utoipa::path(
    get,
    path = "/session",
    tag = "account",
    operation_id = "getSession",
    summary = "The presented session",
    description = "Who the session belongs to and when it ends. Counts as use: it pushes the idle deadline forward like `/session/refresh`.",
    security(("sessionBearer" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The session.", body = SessionInfo,
            headers(
                ("Cache-Control" = String, description = "`no-store`."),
                ("Set-Cookie" = String, description = "For a cookie-authenticated request: both cookies again with the new `Max-Age`."),
            )),
        SessionRefusals,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn session(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    let session = accounts.used(session.into_inner()).await?;
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
#[utoipa::path(
    post,
    path = "/session/refresh",
    tag = "sessions",
    operation_id = "refreshSession",
    summary = "Push the idle deadline forward",
    description = "Moves the session's idle deadline to now plus `session.idle_timeout_seconds` (never past `absoluteExpiresAt`) and answers the new `expiresAt`. The token stays the same.",
    params(CsrfHeader),
    security(("sessionBearer" = []), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The session's new ends.", body = Refreshed,
            headers(
                ("Cache-Control" = String, description = "`no-store`."),
                ("Set-Cookie" = String, description = "For a cookie-authenticated request: both cookies again with the new `Max-Age`."),
            )),
        UnsafeSessionRefusals,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    let session = session.into_inner();
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
