//! The resource-service's settings: the contract's keys, layered with the `config` crate.

use serde::{Deserialize, Serialize};
use session_core::ValidatorSettings;
use session_core::settings::{
    self, InternalSettings, JwtSettings, MetricsSettings, RedisSettings, ServerSettings,
    SessionSettings, SettingsError,
};
pub use session_core::settings::{AuthServiceSettings, ValidationMode, ValidationSettings};

/// The resource-service's own defaults, on top of session-core's shared ones and
/// [`settings::VALIDATOR_DEFAULTS`].
const DEFAULTS: &str = r#"
[server]
host = "127.0.0.1"
port = 8081
shutdown_timeout_seconds = 30
workers = 0
request_timeout_ms = 10000
max_connections = 0
"#;

/// Everything the resource-service reads at start.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    /// Where to listen.
    pub server: ServerSettings,
    /// `GET /metrics`.
    pub metrics: MetricsSettings,
    /// Span export (`telemetry.otlp_endpoint`).
    #[serde(default)]
    pub telemetry: service_kit::telemetry::TelemetrySettings,
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

impl Settings {
    /// Loads defaults < `APP_CONFIG_FILE` < `APP__...` and checks them.
    pub fn load() -> Result<Self, SettingsError> {
        let loaded: Self = settings::load(&defaults())?;
        loaded.check(settings::is_production())?;
        Ok(loaded)
    }

    /// The built-in defaults alone (no file, no environment), unchecked: the starting
    /// point for tests and tools that override a few fields.
    pub fn defaults() -> Result<Self, SettingsError> {
        settings::defaults(&defaults())
    }

    /// What the validator is built from.
    pub fn validator(&self) -> ValidatorSettings<'_> {
        ValidatorSettings {
            redis: &self.redis,
            session: &self.session,
            jwt: &self.jwt,
            internal: &self.internal,
            validation: &self.validation,
            auth_service: &self.auth_service,
        }
    }

    /// Refuses unusable values, and the built-in secrets in production.
    pub fn check(&self, production: bool) -> Result<(), SettingsError> {
        self.validator().check(production)
    }
}

/// This service's defaults after the shared validator's.
fn defaults() -> String {
    [settings::VALIDATOR_DEFAULTS, DEFAULTS].concat()
}
