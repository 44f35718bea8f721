//! Settings shared by both services, read with the `config` crate.
//!
//! Layers, lowest first: the service's built-in defaults, an optional file named
//! by `APP_CONFIG_FILE`, then environment variables `APP__<SECTION>__<KEY>`.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The HS256 secret built into the defaults, for local runs only.
pub const DEV_JWT_SECRET: &str = "dev-only-secret-change-me-0123456789abcdef";
/// The internal token built into the defaults, for local runs only.
pub const DEV_INTERNAL_TOKEN: &str = "dev-only-internal-token-change-me";

/// Marks the placeholder values of `.env.example`; production refuses them too.
pub const PLACEHOLDER_MARK: &str = "replace-me";

/// Defaults both services share, as TOML; each service adds its own on top.
pub const SHARED_DEFAULTS: &str = r#"
[redis]
url = "redis://127.0.0.1:6379"
timeout_ms = 1000
pool_size = 32

[session]
ttl_seconds = 43200
key_prefix = "session:"
accept_user_id_header = false

[jwt]
secret = "dev-only-secret-change-me-0123456789abcdef"
issuer = "session-store"
audience = "session-store"
algorithm = "HS256"

[internal]
token = "dev-only-internal-token-change-me"
"#;

/// Listener and shutdown settings, the same for every service.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// Interface to bind.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_seconds: u64,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
}

/// Where the Redis session store lives and how long a call may take.
#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port[/db]`; secret because it may carry a password.
    pub url: SecretString,
    /// Upper bound for every Redis call, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Connections kept in the pool.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
}

fn default_timeout_ms() -> u64 {
    1000
}

fn default_pool_size() -> usize {
    32
}

/// How sessions are kept in Redis and which credentials are accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionSettings {
    /// Lifetime of a session: the JWT's `exp - iat` and the Redis key's `EX`.
    pub ttl_seconds: u64,
    /// Prefix of every session key; the key is `<prefix><userId>`.
    pub key_prefix: String,
    /// Seed mode: accept a bare userId as the credential (trusted networks only).
    #[serde(default)]
    pub accept_user_id_header: bool,
}

/// The signing algorithm sessions are issued with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret (the default).
    HS256,
    /// Ed25519 signatures: only the auth-service holds the private key.
    EdDSA,
}

/// JWT signing and verification settings.
#[derive(Debug, Clone, Deserialize)]
pub struct JwtSettings {
    /// HS256 shared secret, at least 32 bytes.
    pub secret: SecretString,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
    /// Pinned algorithm.
    pub algorithm: JwtAlgorithm,
    /// EdDSA private key (PEM), auth-service only.
    #[serde(default)]
    pub signing_key: Option<SecretString>,
    /// Key id written into the header of tokens signed with `signing_key`.
    #[serde(default)]
    pub signing_key_id: Option<String>,
    /// EdDSA public keys (PEM) by key id, for verifying.
    #[serde(default)]
    pub verification_keys: BTreeMap<String, String>,
    /// Where to fetch the auth-service's public keys (JWKS).
    #[serde(default)]
    pub jwks_url: Option<String>,
}

/// The shared secret services use to call each other's internal endpoints.
#[derive(Debug, Clone, Deserialize)]
pub struct InternalSettings {
    /// Sent as `Authorization: Bearer <token>` on `/introspect`.
    pub token: SecretString,
}

/// Errors found while loading or checking settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The layered configuration could not be read or did not fit the settings types.
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A value is present but unusable.
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Reads `T` from the service's built-in defaults, the optional `APP_CONFIG_FILE`
/// and `APP__SECTION__KEY` environment variables, in that order.
pub fn load<T: serde::de::DeserializeOwned>(service_defaults: &str) -> Result<T, SettingsError> {
    let mut builder = config::Config::builder()
        .add_source(config::File::from_str(
            SHARED_DEFAULTS,
            config::FileFormat::Toml,
        ))
        .add_source(config::File::from_str(
            service_defaults,
            config::FileFormat::Toml,
        ));
    if let Ok(path) = std::env::var("APP_CONFIG_FILE") {
        builder = builder.add_source(config::File::with_name(&path).required(true));
    }
    let loaded = builder
        .add_source(
            config::Environment::with_prefix("APP")
                .prefix_separator("__")
                .separator("__"),
        )
        .build()?;
    Ok(loaded.try_deserialize()?)
}

/// True when `APP_ENV` says this is a production deployment.
pub fn is_production() -> bool {
    std::env::var("APP_ENV")
        .map(|v| v.eq_ignore_ascii_case("production"))
        .unwrap_or(false)
}

impl JwtSettings {
    /// Refuses a secret the built-in default or too short to sign with.
    pub fn check(&self, production: bool) -> Result<(), SettingsError> {
        if self.algorithm == JwtAlgorithm::HS256 {
            let secret = self.secret.expose_secret();
            if secret.len() < 32 {
                return Err(SettingsError::Invalid(
                    "jwt.secret must be at least 32 bytes".into(),
                ));
            }
            if production && (secret == DEV_JWT_SECRET || secret.contains(PLACEHOLDER_MARK)) {
                return Err(SettingsError::Invalid(
                    "APP_ENV=production refuses the built-in development or placeholder jwt.secret"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

impl InternalSettings {
    /// Refuses the built-in internal token in production.
    pub fn check(&self, production: bool) -> Result<(), SettingsError> {
        let token = self.token.expose_secret();
        if token.len() < 16 {
            return Err(SettingsError::Invalid(
                "internal.token must be at least 16 bytes".into(),
            ));
        }
        if production && (token == DEV_INTERNAL_TOKEN || token.contains(PLACEHOLDER_MARK)) {
            return Err(SettingsError::Invalid(
                "APP_ENV=production refuses the built-in development or placeholder internal.token"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl SessionSettings {
    /// Refuses a zero lifetime or an empty key prefix.
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.ttl_seconds == 0 {
            return Err(SettingsError::Invalid(
                "session.ttl_seconds must be positive".into(),
            ));
        }
        if self.key_prefix.is_empty() {
            return Err(SettingsError::Invalid(
                "session.key_prefix must not be empty".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(secret: &str) -> JwtSettings {
        JwtSettings {
            secret: SecretString::from(secret.to_owned()),
            issuer: "session-store".into(),
            audience: "session-store".into(),
            algorithm: JwtAlgorithm::HS256,
            signing_key: None,
            signing_key_id: None,
            verification_keys: BTreeMap::new(),
            jwks_url: None,
        }
    }

    #[test]
    fn production_refuses_the_dev_and_placeholder_secrets() {
        assert!(jwt(DEV_JWT_SECRET).check(false).is_ok());
        assert!(jwt(DEV_JWT_SECRET).check(true).is_err());
        assert!(
            jwt("replace-me-with-openssl-rand-hex-32")
                .check(true)
                .is_err()
        );
        assert!(
            jwt("0123456789abcdef0123456789abcdef0123")
                .check(true)
                .is_ok()
        );
        assert!(jwt("short").check(false).is_err());
        let internal = |t: &str| InternalSettings {
            token: SecretString::from(t.to_owned()),
        };
        assert!(internal(DEV_INTERNAL_TOKEN).check(true).is_err());
        assert!(
            internal("replace-me-with-openssl-rand-hex-32")
                .check(true)
                .is_err()
        );
        assert!(internal(DEV_INTERNAL_TOKEN).check(false).is_ok());
    }

    #[test]
    fn shared_defaults_match_the_contract() {
        #[derive(Deserialize)]
        struct Shared {
            redis: RedisSettings,
            session: SessionSettings,
            jwt: JwtSettings,
        }
        let s: Shared = load("").expect("defaults load with nothing set");
        assert_eq!(s.redis.url.expose_secret(), "redis://127.0.0.1:6379");
        assert_eq!(s.redis.timeout_ms, 1000);
        assert_eq!(s.session.ttl_seconds, 43200);
        assert_eq!(s.session.key_prefix, "session:");
        assert!(!s.session.accept_user_id_header);
        assert_eq!(s.jwt.algorithm, JwtAlgorithm::HS256);
        assert_eq!(s.jwt.issuer, "session-store");
        assert_eq!(s.jwt.secret.expose_secret(), DEV_JWT_SECRET);
    }
}
