//! `GET /health/ready`: Redis and MongoDB must both answer.

use actix_web::{HttpResponse, web};
use session_core::http::readiness;

use crate::accounts::Accounts;

/// `GET /health/ready`: 200 when Redis and MongoDB both answer, else 503 naming each.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "operations",
    operation_id = "ready",
    summary = "Readiness",
    description = "`200` when Redis and MongoDB both answer, else `503`; the body gives each one's state.",
    responses(super::openapi::Readiness)
)]
pub async fn ready(accounts: web::Data<Accounts>) -> HttpResponse {
    let (redis, mongodb) = tokio::join!(accounts.store().ping(), accounts.users().ping());
    readiness(&[("redis", redis.is_ok()), ("mongodb", mongodb.is_ok())])
}
