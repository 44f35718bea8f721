//! What every test suite of the workspace shares, written once: session-core's, the
//! auth-service's, the conformance suite, the cross-service system tests and
//! sessionctl's. Used as a dev-dependency only.
//!
//! # Layout
//! - [`env`]: the test servers scripts/test.sh started (`TEST_*`); a missing variable
//!   panics, so no test passes or skips without its server.
//! - [`ids`]: emails, ids and key prefixes no other test uses.
//! - [`http`]: the HTTP client and the contract's error asserts.
//! - [`settings`]: each service's built-in defaults made fast for tests (low bcrypt
//!   cost, sign-up limits out of the way), in-process and as `APP__...` variables.
//! - [`process`]: a child process that is always reaped, temporary directories, and
//!   the workspace's built binaries.
//! - [`service`]: a service binary as a process on a free port, started and waited for.
//! - [`net`]: free ports and waiting for a listener.
//! - [`redis`]: a redis-server of the test's own on a fresh port (another one when the
//!   port was taken before it bound it), to count, stop, kill and restart; and a Redis
//!   Cluster of them.
//! - [`openapi`]: the served document equals the committed copy and names every route.

#![deny(missing_docs)]
// Test support fails loudly: a broken fixture is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod env;
pub mod http;
pub mod ids;
pub mod net;
pub mod openapi;
pub mod process;
pub mod redis;
pub mod service;
pub mod settings;

pub use env::{env, mongodb_uri, redis_url};
pub use http::{assert_error, client, client_builder};
pub use ids::{unique_email, unique_id, unique_prefix, user_id};
pub use net::{free_port, wait_port};
pub use process::{ChildGuard, TempDir, binary, signal};
pub use service::{Service, kv, pairs};
pub use settings::{INTERNAL_TOKEN, PASSWORD, SECRET};
