//! axum-service: a complete small service on `session-axum`, what a team's own axum
//! service looks like when it validates our sessions. `GET /me` answers exactly as
//! the resource-service's (redis and remote mode, validation cache, cookie + CSRF);
//! `GET /health/live` and `GET /health/ready`; the contract's error bodies for unknown
//! paths and methods. It reads the same `APP__` keys as the resource-service.
//!
//! # Layout
//! - [`configuration`]: the settings (the resource-service's keys, port 8082).
//! - [`startup`]: the one composition root: validator, router, listener.
//! - [`routes`]: the handlers.

#![warn(missing_docs)]

pub mod configuration;
pub mod routes;
pub mod startup;
