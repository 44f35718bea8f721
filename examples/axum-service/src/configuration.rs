//! The service's settings: the resource-service's keys, layered with the `config`
//! crate (defaults < `APP_CONFIG_FILE` < `APP__<SECTION>__<KEY>`).

use serde::{Deserialize, Serialize};
use session_core::ValidatorSettings;
use session_core::settings::{
    self, AuthServiceSettings, InternalSettings, JwtSettings, RedisSettings, ServerSettings,
    SessionSettings, SettingsError, ValidationSettings,
};

/// This service's own defaults, on top of session-core's shared ones and
/// [`settings::VALIDATOR_DEFAULTS`].
const DEFAULTS: &str = r#"
[server]
host = "127.0.0.1"
port = 8082
shutdown_timeout_seconds = 30
workers = 0
"#;

/// Everything the service reads at start.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    /// Where to listen (`host`, `port`; the other server keys are the
    /// resource-service's and are read but not used here).
    pub server: ServerSettings,
    /// The session store (redis mode).
    pub redis: RedisSettings,
    /// Key prefix, layout, seed mode, cookie.
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
        loaded.validator().check(settings::is_production())?;
        Ok(loaded)
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
}

fn defaults() -> String {
    [settings::VALIDATOR_DEFAULTS, DEFAULTS].concat()
}
