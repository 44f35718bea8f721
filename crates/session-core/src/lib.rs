//! session-core: the session domain every service of the session store shares, and
//! what a team's own Rust service adds (through `session-actix` or `session-axum`) to
//! validate sessions. No web framework is in its dependency tree.
//!
//! Sessions live in Redis as signed JWTs, with the JWT's lifetime as the key's expiry.
//! A service validates a request's credential through this crate, either straight
//! against Redis or by asking the auth-service.
//!
//! # Layout
//! Modules are in two floors; each imports only from its own floor or below.
//!
//! Ground floor (plain types, the wire):
//! - [`error`]: the contract's error codes and bodies; the domain's error types.
//! - [`settings`]: the contract's configuration keys and the layered loader.
//! - [`secrets`]: what production refuses in a secret (development values, guessable).
//! - [`masked`]: how settings are shown, secrets and URL credentials hidden.
//! - [`session`]: a validated [`Session`] and how its times are written.
//! - [`credential`]: parsing the `Authorization` header into a [`Credential`].
//! - [`request`]: what a request presents (header, cookie, CSRF), for any framework.
//! - [`measure`]: counters, histograms and gauges by the contract's names.
//! - [`introspection`]: the `X-Request-Id` header and the `/introspect` bodies.
//! - [`events`]: session and account events, their stream, webhook signatures.
//!
//! Domain:
//! - [`jwt_crypto`]: the JWT crate's crypto provider, HMAC and Ed25519 only.
//! - [`keys`]: Ed25519 keys from PEM, development key generation, JWK Sets.
//! - [`token`]: the JWT codec (issue, verify with a pinned algorithm) and key refresh.
//! - [`store`]: the Redis session store (atomic create-or-reuse, compare-and-delete).
//! - [`cache`]: the in-process validation cache and its Redis pub/sub invalidation.
//! - [`validate`]: credential in, [`Session`] or the contract's error out, against Redis.
//! - `client` (feature `http-client`): the auth-service's HTTP clients (introspection,
//!   JWKS).
//! - [`validator`]: the [`SessionValidator`] a service builds once from its settings,
//!   and how an adapter authenticates a request with it.

#![warn(missing_docs)]

pub mod cache;
#[cfg(feature = "http-client")]
pub mod client;
pub mod credential;
pub mod error;
pub mod events;
pub mod introspection;
pub mod jwt_crypto;
pub mod keys;
pub mod masked;
pub mod measure;
pub mod request;
pub mod secrets;
pub mod session;
pub mod settings;
pub mod store;
pub mod token;
pub mod validate;
pub mod validator;

pub use credential::Credential;
pub use error::{AuthError, ErrorBody, ErrorCode, StoreError, TokenError};
pub use request::{CookiePolicy, RequestHeaders};
pub use session::Session;
pub use store::{SessionStore, StoredSession};
pub use token::{Claims, TokenCodec};
pub use validate::LocalValidator;
pub use validator::{BuildOptions, PreparedValidator, SessionValidator, ValidatorSettings};
