//! The handlers: `GET /me` (the protected one), health, and the contract's 404 / 405.

use axum::Json;
use axum::extract::Extension;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use session_axum::{Session, SessionAuth, error_response};
use session_core::ErrorCode;
use session_core::error::UNAVAILABLE_RETRY_AFTER_SECS;
use session_core::session::rfc3339;

/// The user the presented session belongs to (the resource-service's `GET /me` body).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    user_id: String,
    email: String,
    expires_at: String,
}

/// `GET /me`: who the session says the caller is.
pub async fn me(session: Session) -> Response {
    let session = session.into_inner();
    let body = Me {
        expires_at: rfc3339(session.expires_at),
        user_id: session.user_id,
        email: session.email,
    };
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `GET /health/live`: 200 while the process runs.
pub async fn live() -> Response {
    Json(serde_json::json!({ "status": "live" })).into_response()
}

/// `GET /health/ready`: 200 when what validation needs answers (Redis, or the
/// auth-service in remote mode), else 503 with the contract's body; the body names
/// the dependency's state.
pub async fn ready(Extension(auth): Extension<SessionAuth>) -> Response {
    let (name, up) = auth.validator().dependency_up().await;
    let mut body = serde_json::Map::new();
    if !up {
        body.insert(
            "error".into(),
            ErrorCode::ServiceUnavailable.as_str().into(),
        );
        body.insert(
            "message".into(),
            "Not ready: a dependency does not answer.".into(),
        );
    }
    body.insert(
        "status".into(),
        if up { "ready" } else { "unavailable" }.into(),
    );
    body.insert(name.into(), if up { "up" } else { "down" }.into());
    if up {
        Json(body).into_response()
    } else {
        let retry = [(
            header::RETRY_AFTER,
            UNAVAILABLE_RETRY_AFTER_SECS.to_string(),
        )];
        (StatusCode::SERVICE_UNAVAILABLE, retry, Json(body)).into_response()
    }
}

/// An unknown path: `404 not_found`.
pub async fn not_found() -> Response {
    error_response(ErrorCode::NotFound)
}

/// A known path asked with another method: `405 method_not_allowed`.
pub async fn method_not_allowed() -> Response {
    error_response(ErrorCode::MethodNotAllowed)
}
