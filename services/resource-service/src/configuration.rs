//! The resource-service's settings: the contract's keys, layered with the `config` crate.

use serde::Deserialize;
use session_core::client::check_url;
use session_core::settings::{
    self, InternalSettings, JwtAlgorithm, JwtSettings, MetricsSettings, RedisSettings,
    ServerSettings, SessionSettings, SettingsError,
};

/// The resource-service's own defaults, on top of session-core's shared ones.
const DEFAULTS: &str = r#"
[server]
host = "127.0.0.1"
port = 8081
shutdown_timeout_seconds = 30
workers = 0
request_timeout_ms = 10000
max_connections = 0

[validation]
mode = "redis"
timeout_ms = 1000
cache = false
cache_max_entries = 100000
cache_heartbeat_ms = 1000
cache_max_age_ms = 5000

[auth_service]
url = "http://127.0.0.1:8080"
allow_plain_http = false
"#;

/// Everything the resource-service reads at start.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Where to listen.
    pub server: ServerSettings,
    /// `GET /metrics`.
    pub metrics: MetricsSettings,
    /// Span export (`telemetry.otlp_endpoint`).
    #[serde(default)]
    pub telemetry: session_core::telemetry::TelemetrySettings,
    /// The session store (redis mode).
    pub redis: RedisSettings,
    /// Key prefix, seed mode.
    pub session: SessionSettings,
    /// Token verification (redis mode).
    pub jwt: JwtSettings,
    /// The token sent to the auth-service (remote mode).
    pub internal: InternalSettings,
    /// How sessions are validated.
    pub validation: ValidationSettings,
    /// Where the auth-service is (remote mode).
    pub auth_service: AuthServiceSettings,
}

/// Where sessions are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationMode {
    /// Straight against Redis with session-core.
    Redis,
    /// By asking the auth-service's `/introspect`.
    Remote,
}

/// Validation settings.
#[derive(Debug, Clone, Deserialize)]
pub struct ValidationSettings {
    /// `redis` (default) or `remote`.
    pub mode: ValidationMode,
    /// Upper bound for an introspection call, in milliseconds.
    pub timeout_ms: u64,
    /// Keep recently validated sessions in process (redis mode), invalidated over
    /// Redis pub/sub; off by default.
    pub cache: bool,
    /// Most sessions the cache holds.
    pub cache_max_entries: usize,
    /// How often the invalidation channel is checked; the cache is dropped when a
    /// check fails.
    pub cache_heartbeat_ms: u64,
    /// An entry is served for at most this long after Redis confirmed it, then checked
    /// again: the bound on how long a change that bypasses the store (an operator's
    /// `DEL`, `FLUSHALL`, eviction) goes unseen.
    pub cache_max_age_ms: u64,
}

/// The auth-service's location.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthServiceSettings {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// A proxy to reach it through; without one no proxy is used, whatever the
    /// environment's `HTTP_PROXY` says.
    #[serde(default)]
    pub proxy: Option<String>,
    /// A PEM bundle of CAs to trust besides the system's, for `https://` URLs.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Lets production use plain `http://` to a host that is not loopback.
    pub allow_plain_http: bool,
}

impl Settings {
    /// Loads defaults < `APP_CONFIG_FILE` < `APP__...` and checks them.
    pub fn load() -> Result<Self, SettingsError> {
        let loaded: Self = settings::load(DEFAULTS)?;
        loaded.check(settings::is_production())?;
        Ok(loaded)
    }

    /// The built-in defaults alone (no file, no environment), unchecked: the starting
    /// point for tests and tools that override a few fields.
    pub fn defaults() -> Result<Self, SettingsError> {
        settings::defaults(DEFAULTS)
    }

    /// Refuses unusable values, and the built-in secrets in production.
    pub fn check(&self, production: bool) -> Result<(), SettingsError> {
        self.session.check()?;
        self.session.check_seed_mode(production)?;
        self.redis.check(production)?;
        match self.validation.mode {
            ValidationMode::Redis => {
                self.jwt.check(production)?;
                if self.jwt.algorithm == JwtAlgorithm::EdDSA
                    && self.jwt.verification_keys.is_empty()
                    && self.jwt.jwks_url.is_none()
                {
                    return Err(SettingsError::Missing {
                        key: "jwt.verification_keys or jwt.jwks_url",
                        needed_by: "jwt.algorithm = EdDSA",
                    });
                }
            }
            ValidationMode::Remote => {
                self.internal.check(production)?;
                check_url(
                    "auth_service.url",
                    &self.auth_service.url,
                    production,
                    self.auth_service.allow_plain_http,
                )?;
            }
        }
        if let Some(url) = &self.jwt.jwks_url {
            check_url(
                "jwt.jwks_url",
                url,
                production,
                self.auth_service.allow_plain_http,
            )?;
        }
        if !(1..=600_000).contains(&self.validation.cache_max_age_ms) {
            return Err(SettingsError::OutOfRange {
                key: "validation.cache_max_age_ms",
                allowed: "between 1 and 600000",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_default_key_is_a_known_key() {
        if let Err(err) = session_core::settings::check_known_keys(super::DEFAULTS) {
            panic!("a default of this service is not in settings::KNOWN_KEYS: {err}");
        }
    }
}
