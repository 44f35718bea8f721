//! `GET /health/ready`: Redis and MongoDB must both answer.

use actix_web::{HttpResponse, web};
use std::collections::BTreeMap;

use service_kit::openapi::readiness_responses;
use service_kit::readiness;
use utoipa::IntoResponses;
use utoipa::openapi::RefOr;
use utoipa::openapi::response::Response;

use crate::accounts::Accounts;

/// `GET /health/ready`: 200 when Redis and MongoDB both answer, else 503 naming each.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "operations",
    operation_id = "ready",
    summary = "Readiness",
    description = "`200` when Redis and MongoDB both answer, else `503`; the body gives each one's state.",
    responses(Readiness)
)]
pub async fn ready(accounts: web::Data<Accounts>) -> HttpResponse {
    let (redis, mongodb) = tokio::join!(accounts.store().ping(), accounts.users().ping());
    readiness(&[("redis", redis.is_ok()), ("mongodb", mongodb.is_ok())])
}

/// `GET /health/ready`'s answers: Redis and MongoDB.
pub(crate) struct Readiness;

impl IntoResponses for Readiness {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        readiness_responses(&["redis", "mongodb"])
    }
}
