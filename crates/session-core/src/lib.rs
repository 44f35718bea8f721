//! session-core: the session layer every service of the session store shares.
//!
//! Sessions live in Redis as signed JWTs, one key per user, with the JWT's lifetime
//! as the key's expiry. Services validate a request's `Authorization` header through
//! this crate, either straight against Redis or by asking the auth-service.
//!
//! # Layout
//! - [`settings`]: the contract's configuration keys and the layered loader.
//! - [`token`]: the JWT codec (issue, verify with a pinned algorithm).
//! - [`store`]: the Redis session store (atomic create-or-reuse, compare-and-delete).
//! - [`keys`]: Ed25519 keys from PEM, development key generation, JWK Sets.
//! - [`credential`]: parsing the `Authorization` header.
//! - [`cache`]: the in-process validation cache and its Redis pub/sub invalidation.
//! - [`validate`]: credential in, [`Session`] or the contract's error out.
//! - [`error`]: the contract's error codes.
//! - [`telemetry`]: the services' log set-up.
//! - [`http`]: the actix-web extractor, error bodies, request ids, body limits.
//! - [`probe`]: the `healthcheck` subcommand's liveness probe.
//! - [`introspection`]: the wire types of `/introspect`.
//! - `remote` (feature `remote`): validation through the auth-service's `/introspect`.

pub mod cache;
pub mod credential;
pub mod error;
pub mod http;
pub mod introspection;
pub mod keys;
pub mod probe;
#[cfg(feature = "remote")]
pub mod remote;
pub mod session;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod validate;

pub use credential::Credential;
pub use error::{AuthError, ErrorCode};
pub use session::Session;
pub use store::{SessionStore, StoreError, StoredSession};
pub use token::{Claims, TokenCodec, TokenError};
pub use validate::{LocalValidator, SessionValidator};
