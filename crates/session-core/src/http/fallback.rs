//! The contract's answers for unknown paths (404) and unaccepted methods (405).

use actix_web::{HttpResponse, web};

use super::errors::error_response;
use crate::error::ErrorCode;

/// Fallback for unknown paths: 404 with the contract's body.
pub async fn not_found() -> HttpResponse {
    error_response(ErrorCode::NotFound)
}

/// Fallback for a known path with another method: 405 with the contract's body.
pub async fn method_not_allowed() -> HttpResponse {
    error_response(ErrorCode::MethodNotAllowed)
}

/// A resource whose unmatched methods answer 405 with the contract's body.
pub fn resource(path: &str) -> actix_web::Resource {
    // Named by its path, so the metrics label it by pattern without an allocation.
    web::resource(path)
        .name(path)
        .default_service(web::to(method_not_allowed))
}
