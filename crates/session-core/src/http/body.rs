//! Request body limits and the contract's 400 and 413 answers for bad JSON.

use actix_web::error::{InternalError, JsonPayloadError, PayloadError};
use actix_web::web;

use super::errors::error_response;
use crate::error::ErrorCode;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// JSON extractor settings: 16 KiB limit, the contract's 400 and 413 bodies.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .content_type_required(false)
        .error_handler(|err, _req| {
            let code = match &err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Payload(PayloadError::Overflow) => ErrorCode::PayloadTooLarge,
                _ => ErrorCode::InvalidRequest,
            };
            InternalError::from_response(err, error_response(code)).into()
        })
}

/// Raw payload settings with the same limit, for handlers that read no JSON.
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_BODY_BYTES)
}
