//! `GET /health/live` and `GET /health/ready`.

use actix_web::{HttpResponse, web};
use serde_json::json;
use session_core::{ErrorCode, SessionValidator};

pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "live" }))
}

/// Ready when what validation needs answers: Redis, or the auth-service in remote mode.
pub async fn ready(validator: web::Data<SessionValidator>) -> HttpResponse {
    let (name, up) = match validator.get_ref() {
        SessionValidator::Local(local) => ("redis", local.store().ping().await.is_ok()),
        SessionValidator::Remote(remote) => ("authService", remote.ping().await.is_ok()),
    };
    let state = if up { "up" } else { "down" };
    if up {
        HttpResponse::Ok().json(json!({ "status": "ready", name: state }))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((
                actix_web::http::header::RETRY_AFTER,
                session_core::http::UNAVAILABLE_RETRY_AFTER_SECS.to_string(),
            ))
            .json(json!({
                "error": ErrorCode::ServiceUnavailable.as_str(),
                "message": "Not ready: a dependency does not answer.",
                "status": "unavailable",
                name: state,
            }))
    }
}
