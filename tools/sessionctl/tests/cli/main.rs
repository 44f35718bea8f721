//! sessionctl end to end: the built binary as a process, against the Redis and
//! MongoDB-wire server that scripts/test.sh started (TEST_REDIS_URL, TEST_MONGODB_URI),
//! with users and sessions made by the auth-service's own code.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod config;
mod events;
mod helpers;
mod keygen;
mod sessions;
