//! actix-web integration, a file per concern: the contract's error bodies
//! ([`errors`]), request ids and the access log ([`request_id`]), the [`Session`]
//! extractor ([`extractor`]), body limits ([`body`]), slow clients ([`deadline`]), the shared server builder
//! ([`server`]), health answers ([`health`]), `/metrics` ([`metrics`]), the 404/405
//! fallbacks ([`fallback`]) and, with the `openapi` feature, what the services' OpenAPI
//! documents share and `/openapi.json` (`openapi`).
//!
//! [`Session`]: crate::Session

pub mod bare;
pub mod body;
pub mod cookie;
pub mod deadline;
pub mod errors;
pub mod extractor;
pub mod fallback;
pub mod health;
pub mod metrics;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod request_id;
pub mod server;

pub use body::{MAX_BODY_BYTES, json_config, payload_config, read_body};
pub use cookie::{CookiePolicy, credential_of, session_credential};
pub use errors::{ErrorBody, UNAVAILABLE_RETRY_AFTER_SECS, error_response, error_response_with};
pub use extractor::{SessionValidator, authenticate};
pub use fallback::{method_not_allowed, not_found, resource};
pub use health::{live, readiness};
pub use request_id::{REQUEST_ID, request_context};
pub use server::{BoundServer, serve};
