//! The health answers every service gives: liveness, and readiness by dependency.

use actix_web::HttpResponse;
use actix_web::http::header;

use session_core::error::ErrorCode;
use session_core::error::UNAVAILABLE_RETRY_AFTER_SECS;

/// `GET /health/live`: 200 while the process runs.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/health/live",
    tag = crate::openapi::OPERATIONS_TAG,
    operation_id = "live",
    summary = "Liveness",
    description = "200 while the process runs; asks no dependency.",
    responses((status = 200, description = "The process runs.", body = crate::openapi::Liveness))
))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "live" }))
}

/// The `/health/ready` answer for named dependencies and whether each answered:
/// 200 when all did, else 503 with the contract's body, `Retry-After`, and each
/// dependency's state (`up` / `down`).
pub fn readiness(dependencies: &[(&str, bool)]) -> HttpResponse {
    let ready = dependencies.iter().all(|(_, up)| *up);
    let mut body = serde_json::Map::new();
    if !ready {
        let code = ErrorCode::ServiceUnavailable;
        body.insert("error".into(), code.as_str().into());
        body.insert(
            "message".into(),
            "Not ready: a dependency does not answer.".into(),
        );
    }
    body.insert(
        "status".into(),
        if ready { "ready" } else { "unavailable" }.into(),
    );
    for (name, up) in dependencies {
        body.insert((*name).into(), if *up { "up" } else { "down" }.into());
    }
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((
                header::RETRY_AFTER,
                UNAVAILABLE_RETRY_AFTER_SECS.to_string(),
            ))
            .json(body)
    }
}
