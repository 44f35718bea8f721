//! Request body limits and the contract's answers for bad bodies: 400 (not JSON of
//! the expected shape), 408 (the body did not arrive before the request's deadline),
//! 413 (too large), 415 (not `application/json`, so a form posted by a foreign page
//! is never read as credentials).

use actix_web::error::{InternalError, JsonPayloadError, PayloadError};
use actix_web::http::StatusCode;
use actix_web::web;

use session_actix::{error_response, error_response_with};
use session_core::error::ErrorCode;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// JSON extractor settings: 16 KiB limit, the contract's 400 and 413 bodies.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .content_type_required(true)
        .error_handler(|err, _req| {
            let response = match &err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. }
                | JsonPayloadError::Payload(PayloadError::Overflow) => {
                    error_response(ErrorCode::PayloadTooLarge)
                }
                JsonPayloadError::ContentType => error_response(ErrorCode::UnsupportedMediaType),
                JsonPayloadError::Payload(PayloadError::Io(io))
                    if io.kind() == std::io::ErrorKind::TimedOut =>
                {
                    timed_out()
                }
                _ => error_response(ErrorCode::InvalidRequest),
            };
            InternalError::from_response(err, response).into()
        })
}

/// Raw payload settings with the same limit, for handlers that read no JSON.
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_BODY_BYTES)
}

/// 408 with the contract's body: the request did not arrive in time.
pub fn timed_out() -> actix_web::HttpResponse {
    let mut response = error_response_with(
        ErrorCode::InvalidRequest,
        "The request did not arrive in time.",
        None,
    );
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    response.headers_mut().insert(
        actix_web::http::header::CONNECTION,
        actix_web::http::header::HeaderValue::from_static("close"),
    );
    response
}

/// Reads a whole request body of at most [`MAX_BODY_BYTES`], for handlers that parse
/// it themselves; the contract's answer when it cannot: 413 over the limit, 408 past
/// the request's deadline, 400 when the stream breaks.
pub async fn read_body(mut payload: web::Payload) -> Result<web::Bytes, actix_web::HttpResponse> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|err| match err {
            PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => timed_out(),
            PayloadError::Overflow => error_response(ErrorCode::PayloadTooLarge),
            _ => error_response(ErrorCode::InvalidRequest),
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(error_response(ErrorCode::PayloadTooLarge));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
