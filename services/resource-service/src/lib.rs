//! resource-service: a protected API that trusts the session and nothing else.
//!
//! # Layout
//! - [`configuration`]: the settings it reads, including `validation.mode`.
//! - [`startup`]: [`startup::Application`], which builds the service and binds its server.
//! - [`routes`]: `/me` and the health checks.

pub mod configuration;
pub mod routes;
pub mod startup;
