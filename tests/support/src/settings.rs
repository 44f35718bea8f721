//! Each service's built-in defaults, made fast for tests: the lowest bcrypt cost and
//! the sign-up limits out of the way (every test signs up from 127.0.0.1; the limits
//! have tests of their own). In-process as typed settings, and as `APP__...`
//! variables for the built binaries.

use auth_service::configuration::Settings as AuthSettings;
use secrecy::SecretString;
use serde::Deserialize;
use session_core::settings::{self, JwtSettings, RedisSettings, SessionSettings};

use crate::env::{mongodb_uri, redis_url};
use crate::ids::unique_id;

/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery";
/// The HS256 secret of the tests' services and codecs.
pub const SECRET: &str = "test-secret-that-is-long-enough-0123456789";
/// The auth-service's internal token (`internal.token`) in the tests.
pub const INTERNAL_TOKEN: &str = "test-internal-token-0123456789";
/// bcrypt's lowest cost: a hash in about a millisecond.
pub const BCRYPT_COST: u32 = 4;
/// Sign-ups allowed per IP per hour and in all per minute: more than any test makes.
pub const SIGNUP_LIMIT: u64 = 100_000;

/// The settings every service shares (session-core's), at their built-in defaults.
#[derive(Deserialize)]
pub struct CoreDefaults {
    /// `redis.*`.
    pub redis: RedisSettings,
    /// `session.*`.
    pub session: SessionSettings,
    /// `jwt.*`.
    pub jwt: JwtSettings,
}

/// session-core's built-in defaults.
pub fn core_defaults() -> CoreDefaults {
    settings::defaults("").expect("the built-in defaults load")
}

/// The default Redis settings for `url` with `timeout_ms`.
pub fn redis_settings(url: &str, timeout_ms: u64) -> RedisSettings {
    RedisSettings {
        url: SecretString::from(url.to_owned()),
        timeout_ms,
        ..core_defaults().redis
    }
}

/// The default session settings under `prefix` with `ttl_seconds`.
pub fn session_settings(prefix: &str, ttl_seconds: u64) -> SessionSettings {
    SessionSettings {
        ttl_seconds,
        key_prefix: prefix.to_owned(),
        ..core_defaults().session
    }
}

/// The default JWT settings with `secret`.
pub fn jwt_settings(secret: &str) -> JwtSettings {
    JwtSettings {
        secret: SecretString::from(secret.to_owned()),
        ..core_defaults().jwt
    }
}

/// The auth-service's defaults on the shared Redis and MongoDB-wire server, under a
/// key prefix (`test:<id>:`) and database (`test_<id>`) of their own, with
/// [`INTERNAL_TOKEN`] and the fast settings.
pub fn auth_settings() -> AuthSettings {
    let mut s = AuthSettings::defaults().expect("the built-in defaults load");
    let id = unique_id();
    s.redis.url = SecretString::from(redis_url());
    s.mongodb.uri = SecretString::from(mongodb_uri());
    s.mongodb.database = format!("test_{}", &id[..16]);
    s.session.key_prefix = format!("test:{id}:");
    s.internal.token = SecretString::from(INTERNAL_TOKEN.to_owned());
    s.password.bcrypt_cost = BCRYPT_COST;
    s.signup.max_per_ip_per_hour = SIGNUP_LIMIT;
    s.signup.max_per_minute = SIGNUP_LIMIT;
    s
}

/// The fast settings as `APP__...` variables, for the built auth-service.
pub fn auth_env() -> Vec<(String, String)> {
    crate::service::pairs(&[
        ("APP__PASSWORD__BCRYPT_COST", &BCRYPT_COST.to_string()),
        (
            "APP__SIGNUP__MAX_PER_IP_PER_HOUR",
            &SIGNUP_LIMIT.to_string(),
        ),
        ("APP__SIGNUP__MAX_PER_MINUTE", &SIGNUP_LIMIT.to_string()),
    ])
}
