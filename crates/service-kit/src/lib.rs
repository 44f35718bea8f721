//! service-kit: the chassis our own services share on actix-web. Nothing here is about
//! sessions (that is session-core, and session-actix for the extractor); this is what
//! makes a binary a service of ours:
//!
//! # Layout
//! - [`service`]: the one `main` of every service ([`service::Service`], [`service::run`]).
//! - [`server`]: the shared server builder (workers, limits, shutdown, `/metrics`) and
//!   the [`BoundServer`] it gives a service to run.
//! - [`bare`]: the contract's body on the answers actix-web's parser sends by itself.
//! - [`request_id`]: request ids, the request's trace, deadline and metrics, the access log.
//! - [`deadline`]: slow clients; [`body`]: body limits and JSON bodies.
//! - [`fallback`]: 404/405 with the contract's body, and the [`routes!`] macro.
//! - [`forwarded`]: who the client is behind trusted proxies (`X-Forwarded-For`).
//! - [`health`]: liveness and readiness answers; [`probe`]: the `healthcheck` subcommand.
//! - [`metrics`]: the Prometheus recorder and `GET /metrics`.
//! - [`trace_context`]: W3C `traceparent` / `tracestate`, the trace a request runs in.
//! - [`telemetry`]: logs, and span export over OTLP/HTTP; [`log_sink`]: the log writer.
//! - `openapi` (feature `openapi`): what the services' OpenAPI documents share, and
//!   `/openapi.json`.

#![warn(missing_docs)]

pub mod bare;
pub mod body;
pub mod deadline;
pub mod fallback;
pub mod forwarded;
pub mod health;
pub mod log_sink;
pub mod metrics;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod probe;
pub mod request_id;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod trace_context;

pub use body::{MAX_BODY_BYTES, json_config, payload_config, read_body};
pub use fallback::{method_not_allowed, not_found, resource};
pub use health::{live, readiness};
pub use request_id::{REQUEST_ID, request_context};
pub use server::{BoundServer, serve};
