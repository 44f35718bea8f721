//! session-core's integration tests, one binary: the JWT codec, the Redis session
//! store and validation against a real Redis (started by scripts/test.sh), and the
//! coalesced reads against private redis-servers of their own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod coalesce;
mod sessions;
mod support;
mod token;
