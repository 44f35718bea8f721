//! The fixtures every test here starts from: the real built-in defaults (from
//! test-support, with everything the suites share), with the fields a test needs
//! overridden.

use session_core::SessionStore;
use session_core::settings::JwtSettings;
use test_support::settings::{self, redis_settings, session_settings};
pub use test_support::{SECRET, redis_url, unique_prefix, user_id};

/// The default JWT settings with [`SECRET`].
pub fn jwt_settings() -> JwtSettings {
    settings::jwt_settings(SECRET)
}

/// A store at `url` under `prefix`.
pub fn store_at(url: &str, prefix: &str, ttl: u64, timeout_ms: u64) -> SessionStore {
    SessionStore::new(
        &redis_settings(url, timeout_ms),
        &session_settings(prefix, ttl),
    )
    .expect("store")
}
