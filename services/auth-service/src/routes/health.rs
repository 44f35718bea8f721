//! `GET /health/live` and `GET /health/ready`.

use actix_web::{HttpResponse, web};
use serde_json::json;
use session_core::ErrorCode;

use crate::accounts::Accounts;

pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "live" }))
}

fn state(ok: bool) -> &'static str {
    if ok { "up" } else { "down" }
}

pub async fn ready(accounts: web::Data<Accounts>) -> HttpResponse {
    let (redis, mongodb) = tokio::join!(accounts.store().ping(), accounts.users().ping());
    let (redis, mongodb) = (redis.is_ok(), mongodb.is_ok());
    if redis && mongodb {
        HttpResponse::Ok().json(json!({
            "status": "ready",
            "redis": state(redis),
            "mongodb": state(mongodb),
        }))
    } else {
        let code = ErrorCode::ServiceUnavailable;
        HttpResponse::ServiceUnavailable()
            .insert_header((
                actix_web::http::header::RETRY_AFTER,
                session_core::http::UNAVAILABLE_RETRY_AFTER_SECS.to_string(),
            ))
            .json(json!({
                "error": code.as_str(),
                "message": "Not ready: a dependency does not answer.",
                "status": "unavailable",
                "redis": state(redis),
                "mongodb": state(mongodb),
            }))
    }
}
