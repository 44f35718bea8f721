//! session-axum: session validation for axum services, over session-core.
//!
//! Two ways in, answering alike (and alike with `session-actix`):
//! - the [`Session`] extractor: a handler that takes a `Session` runs only for a
//!   request with a live session; it finds the [`SessionAuth`] the router carries as
//!   an [`axum::Extension`];
//! - the [`SessionLayer`]: every request of the router it wraps must carry a live
//!   session; handlers behind it take the `Session` it found.
//!
//! ```ignore
//! let validator = SessionValidator::build(&settings.validator(), Default::default()).await?;
//! let auth = SessionAuth::new(validator, CookiePolicy::from_settings(&settings.session.cookie));
//! let app = Router::new()
//!     .route("/me", get(|session: Session| async move { session.user_id.clone() }))
//!     .layer(Extension(auth));
//! ```
//!
//! # Layout
//! - [`extractor`]: [`SessionAuth`] and the [`Session`] extractor.
//! - [`layer`]: [`SessionLayer`], validation for every request of a router.
//! - [`errors`]: the contract's error responses.

#![warn(missing_docs)]

pub mod errors;
pub mod extractor;
pub mod layer;

pub use errors::{Refusal, error_response, error_response_with};
pub use extractor::{Headers, Session, SessionAuth};
pub use layer::{SessionLayer, SessionService};
pub use session_core::{CookiePolicy, SessionValidator};
