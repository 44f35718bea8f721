//! The auth-service against a real Redis and a real MongoDB-wire server
//! (both started by scripts/test.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod bodies;
mod cookies;
mod devices;
mod events;
mod failures;
mod helpers;
mod introspect;
mod login;
mod logout;
mod openapi;
mod password;
mod proxies;
mod recovery;
mod replica_set;
mod signup;
mod throttle;
mod verify_cache;
