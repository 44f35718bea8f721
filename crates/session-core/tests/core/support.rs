//! The fixtures every test here starts from: the real built-in defaults, with the
//! fields a test needs overridden.

use secrecy::SecretString;
use serde::Deserialize;
use session_core::SessionStore;
use session_core::settings::{self, JwtSettings, RedisSettings, SessionSettings};

/// The HS256 secret of every test codec.
pub const SECRET: &str = "test-secret-that-is-long-enough-0123456789";

#[derive(Deserialize)]
struct Shared {
    redis: RedisSettings,
    session: SessionSettings,
    jwt: JwtSettings,
}

fn shared() -> Shared {
    settings::defaults("").expect("the built-in defaults load")
}

/// The Redis the test command started.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .expect("TEST_REDIS_URL is not set: run the tests through scripts/test.sh")
}

/// A key prefix no other test uses.
pub fn unique_prefix(name: &str) -> String {
    format!("test:{name}:{}:", uuid::Uuid::new_v4().simple())
}

/// A fresh 24-hex user id.
pub fn user_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..24].to_owned()
}

/// The default JWT settings with [`SECRET`].
pub fn jwt_settings() -> JwtSettings {
    JwtSettings {
        secret: SecretString::from(SECRET.to_owned()),
        ..shared().jwt
    }
}

/// The default session settings under `prefix` with `ttl_seconds`.
pub fn session_settings(prefix: &str, ttl_seconds: u64) -> SessionSettings {
    SessionSettings {
        ttl_seconds,
        key_prefix: prefix.to_owned(),
        ..shared().session
    }
}

/// The default Redis settings for `url` with `timeout_ms`.
pub fn redis_settings(url: &str, timeout_ms: u64) -> RedisSettings {
    RedisSettings {
        url: SecretString::from(url.to_owned()),
        timeout_ms,
        ..shared().redis
    }
}

/// A store at `url` under `prefix`.
pub fn store_at(url: &str, prefix: &str, ttl: u64, timeout_ms: u64) -> SessionStore {
    SessionStore::new(
        &redis_settings(url, timeout_ms),
        &session_settings(prefix, ttl),
    )
    .expect("store")
}
