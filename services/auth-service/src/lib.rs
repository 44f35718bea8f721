//! auth-service: sign-up and login against MongoDB, sessions in Redis.
//!
//! # Layout
//! - [`configuration`]: the settings it reads.
//! - [`startup`]: [`startup::Application`], which builds the service and binds its server.
//! - [`routes`]: thin HTTP handlers.
//! - [`accounts`]: the domain: sign-up, login, logout, introspection.
//! - [`account_checks`]: the domain's refusals and the rules an email and a password meet.
//! - [`user_sessions`]: one user's sessions by id, in either `session.per_user` mode.
//! - [`users`]: the MongoDB `users` collection.
//! - [`password`]: bcrypt off the async workers.
//! - [`recovery`]: password reset and email verification tokens, off-path mail work.
//! - [`mail`]: the mails, sent over SMTP with retries.
//! - [`throttle`]: failed-login limits in Redis.
//! - [`webhooks`]: delivery of the session events as signed webhooks.
//! - [`error`]: the contract's error codes as responses.

pub mod account_checks;
pub mod accounts;
pub mod configuration;
pub mod error;
pub mod mail;
pub mod password;
pub mod recovery;
pub mod routes;
pub mod startup;
pub mod throttle;
pub mod user_sessions;
pub mod users;
pub mod webhooks;
