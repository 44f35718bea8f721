//! session-core: the session layer every service of the session store shares.
//!
//! Sessions live in Redis as signed JWTs, one key per user, with the JWT's lifetime
//! as the key's expiry. Services validate a request's `Authorization` header through
//! this crate, either straight against Redis or by asking the auth-service.
//!
//! # Layout
//! Modules are in three floors; each imports only from its own floor or below.
//!
//! Ground floor (plain types, the wire):
//! - [`error`]: the contract's error codes; the domain's error types and conversions.
//! - [`settings`]: the contract's configuration keys and the layered loader.
//! - [`session`]: a validated [`Session`] and how its times are written.
//! - [`credential`]: parsing the `Authorization` header into a [`Credential`].
//! - [`measure`]: counters, histograms and gauges by the contract's names.
//! - [`introspection`]: what both services put on the wire: `X-Request-Id` and the
//!   `/introspect` bodies, with their conversions.
//! - [`trace_context`]: W3C `traceparent` / `tracestate`, the trace a request runs in.
//!
//! Domain:
//! - [`jwt_crypto`]: the JWT crate's crypto provider, HMAC and Ed25519 only.
//! - [`keys`]: Ed25519 keys from PEM, development key generation, JWK Sets.
//! - [`token`]: the JWT codec (issue, verify with a pinned algorithm) and key refresh.
//! - [`store`]: the Redis session store (atomic create-or-reuse, compare-and-delete).
//! - [`cache`]: the in-process validation cache and its Redis pub/sub invalidation.
//! - [`validate`]: credential in, [`Session`] or the contract's error out.
//!
//! Adapters:
//! - `client` (feature `http-client`): the auth-service's HTTP clients (introspection,
//!   JWKS).
//! - [`http`]: actix-web: the extractor, error bodies, request ids, body limits, server.
//! - [`log_sink`]: the services' log writer (buffered, written by a thread of its own).
//! - [`telemetry`]: logs, and span export over OTLP/HTTP.
//! - [`probe`]: the `healthcheck` subcommand's liveness probe.

#![warn(missing_docs)]

pub mod cache;
#[cfg(feature = "http-client")]
pub mod client;
pub mod credential;
pub mod error;
pub mod http;
pub mod introspection;
pub mod jwt_crypto;
pub mod keys;
pub mod log_sink;
pub mod measure;
pub mod probe;
pub mod session;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod trace_context;
pub mod validate;

pub use credential::Credential;
pub use error::{AuthError, ErrorCode, StoreError, TokenError};
pub use http::SessionValidator;
pub use session::Session;
pub use store::{SessionStore, StoredSession};
pub use token::{Claims, TokenCodec};
pub use validate::LocalValidator;
