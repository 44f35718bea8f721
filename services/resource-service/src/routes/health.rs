//! `GET /health/ready`: what validation needs must answer.

use actix_web::{HttpResponse, web};
use session_core::SessionValidator;
use std::collections::BTreeMap;

use service_kit::openapi::readiness_responses;
use service_kit::readiness;
use utoipa::IntoResponses;
use utoipa::openapi::RefOr;
use utoipa::openapi::response::Response;

/// Ready when Redis answers, or the auth-service in remote mode.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "operations",
    operation_id = "ready",
    summary = "Readiness",
    description = "`200` when what validation needs answers: Redis (`redis`), or in remote mode the auth-service (`authService`); else `503`. The body gives its state.",
    responses(Readiness)
)]
pub async fn ready(validator: web::Data<SessionValidator>) -> HttpResponse {
    readiness(&[validator.dependency_up().await])
}

/// `GET /health/ready`'s answers: Redis, or the auth-service in remote mode.
pub(crate) struct Readiness;

impl IntoResponses for Readiness {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        readiness_responses(&["redis"])
    }
}
