//! session-actix: session validation for actix-web services, over session-core.
//!
//! A handler that takes a [`Session`] argument runs only for a request with a live
//! session; any other request gets the contract's refusal (status, JSON body,
//! `WWW-Authenticate`, `Retry-After`), the same as `session-axum` gives.
//!
//! ```ignore
//! let validator = SessionValidator::build(&settings.validator(), Default::default()).await?;
//! let validator = web::Data::new(validator);
//! let cookies = CookiePolicy::from_settings(&settings.session.cookie);
//! HttpServer::new(move || {
//!     let app = App::new().app_data(validator.clone());
//!     let app = match &cookies { Some(policy) => app.app_data(policy.clone()), None => app };
//!     app.route("/me", web::get().to(|session: Session| async move { session.user_id.clone() }))
//! })
//! ```
//!
//! # Layout
//! - [`extractor`]: the [`Session`] extractor and [`authenticate`].
//! - [`cookie`]: the request's headers for session-core, and the session cookies on a
//!   response.
//! - [`errors`]: the contract's error responses.

#![warn(missing_docs)]

pub mod cookie;
pub mod errors;
pub mod extractor;

pub use cookie::Headers;
pub use errors::{Refusal, error_response, error_response_with};
pub use extractor::{Session, authenticate};
pub use session_core::{CookiePolicy, SessionValidator};
