//! The validator a service builds once from its settings, local (against Redis) or
//! remote (through the auth-service), and the one way every adapter authenticates a
//! request with it.

use std::sync::Arc;
#[cfg(feature = "http-client")]
use std::time::Duration;

use crate::cache::{CacheSettings, ConfiguredCache, ValidationCache};
use crate::credential::Credential;
use crate::error::AuthError;
use crate::request::Presented;
use crate::session::Session;
use crate::settings::{
    AuthServiceSettings, InternalSettings, JwtAlgorithm, JwtSettings, RedisSettings,
    SessionSettings, SettingsError, ValidationMode, ValidationSettings,
};
use crate::store::SessionStore;
use crate::token::TokenCodec;
use crate::validate::LocalValidator;

/// The settings a validator is built from, as a service holds them.
#[derive(Debug, Clone, Copy)]
pub struct ValidatorSettings<'a> {
    /// The session store (redis mode).
    pub redis: &'a RedisSettings,
    /// Key prefix, layout, seed mode, cookie.
    pub session: &'a SessionSettings,
    /// Token verification (redis mode).
    pub jwt: &'a JwtSettings,
    /// The token sent to the auth-service (remote mode).
    pub internal: &'a InternalSettings,
    /// Mode and cache.
    pub validation: &'a ValidationSettings,
    /// Where the auth-service is (remote mode, JWKS).
    pub auth_service: &'a AuthServiceSettings,
}

impl ValidatorSettings<'_> {
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
                self.check_url("auth_service.url", &self.auth_service.url, production)?;
            }
        }
        if let Some(url) = &self.jwt.jwks_url {
            self.check_url("jwt.jwks_url", url, production)?;
        }
        CacheSettings::from(self.validation).check()?;
        Ok(())
    }

    #[cfg(feature = "http-client")]
    fn check_url(
        &self,
        key: &'static str,
        url: &str,
        production: bool,
    ) -> Result<(), SettingsError> {
        crate::client::check_url(key, url, production, self.auth_service.allow_plain_http)
    }

    #[cfg(not(feature = "http-client"))]
    fn check_url(&self, key: &'static str, _: &str, _: bool) -> Result<(), SettingsError> {
        Err(without_http_client(key))
    }
}

#[cfg(not(feature = "http-client"))]
fn without_http_client(key: &'static str) -> SettingsError {
    SettingsError::Conflict {
        key,
        other: "a build of session-core without its http-client feature",
    }
}

/// How a service validates sessions: locally against Redis, or by asking the auth-service.
#[derive(Debug, Clone)]
pub enum SessionValidator {
    /// Straight against Redis.
    Local(LocalValidator),
    /// Through the auth-service's `/introspect`.
    #[cfg(feature = "http-client")]
    Remote(crate::client::IntrospectionClient),
}

/// What an adapter gives a validator besides the settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// Adds the calling request's trace and request id to calls to the auth-service.
    #[cfg(feature = "http-client")]
    pub context: Option<crate::client::Context>,
}

/// A validator built from its settings that does not run yet: codec, store, a
/// configured cache, the JWKS fetcher or the introspection client, all built (keys
/// read, URLs parsed), nothing spawned and nothing contacted. [`PreparedValidator::start`]
/// makes it the [`SessionValidator`]; `sessionctl config check` stops before.
#[derive(Debug)]
pub struct PreparedValidator {
    validator: SessionValidator,
    cache: Option<(ConfiguredCache, SessionStore)>,
    #[cfg(feature = "http-client")]
    jwks: Option<Arc<crate::client::JwksFetcher>>,
}

impl PreparedValidator {
    /// Starts the cache's listener and fetches the JWKS once (a failure there is not
    /// fatal: the first token with an unknown key id fetches again).
    pub async fn start(self) -> SessionValidator {
        if let Some((cache, store)) = self.cache {
            cache.start(&store);
            tracing::info!("validation cache enabled");
        }
        #[cfg(feature = "http-client")]
        if let Some(fetcher) = self.jwks {
            fetcher.fetch().await;
        }
        self.validator
    }
}

impl SessionValidator {
    /// [`SessionValidator::prepare`], then [`PreparedValidator::start`].
    pub async fn build(
        settings: &ValidatorSettings<'_>,
        options: BuildOptions,
    ) -> Result<Self, SettingsError> {
        Ok(Self::prepare(settings, options)?.start().await)
    }

    /// Builds the validator `settings` describe, not yet running: in redis mode the
    /// codec, the store, the validation cache when `validation.cache` is on, and the
    /// JWKS fetcher when `jwt.jwks_url` is set; in remote mode the introspection
    /// client. Warns when seed mode is on.
    pub fn prepare(
        settings: &ValidatorSettings<'_>,
        options: BuildOptions,
    ) -> Result<PreparedValidator, SettingsError> {
        let _ = options;
        let seed = settings.session.accept_user_id_header;
        if seed {
            tracing::warn!(
                "session.accept_user_id_header is on: a bare userId is accepted as a credential; anyone who knows a userId passes. Use only on a trusted network."
            );
        }
        #[cfg(feature = "http-client")]
        let client_options = crate::client::ClientOptions {
            timeout: Duration::from_millis(settings.validation.timeout_ms.max(1)),
            proxy: settings.auth_service.proxy.clone(),
            ca_file: settings.auth_service.ca_file.clone(),
            context: options.context,
        };
        let validation = settings.validation;
        tracing::info!(mode = ?validation.mode, "session validation");
        match validation.mode {
            ValidationMode::Redis => {
                let codec = Arc::new(TokenCodec::new(settings.jwt)?);
                let store = SessionStore::new(settings.redis, settings.session)?;
                let mut local = LocalValidator::new(codec.clone(), store.clone(), seed);
                let cache = ValidationCache::configured(&CacheSettings::from(validation));
                if let Some(cache) = &cache {
                    local = local.with_cache(cache.cache().clone());
                }
                #[cfg(feature = "http-client")]
                let mut jwks = None;
                if let (JwtAlgorithm::EdDSA, Some(url)) =
                    (settings.jwt.algorithm, settings.jwt.jwks_url.as_deref())
                {
                    #[cfg(feature = "http-client")]
                    {
                        let fetcher = Arc::new(crate::client::JwksFetcher::new(
                            url,
                            codec,
                            &client_options,
                            Duration::from_secs(30),
                        )?);
                        local = local.with_key_refresher(fetcher.clone());
                        jwks = Some(fetcher);
                    }
                    #[cfg(not(feature = "http-client"))]
                    {
                        let _ = (url, codec);
                        return Err(without_http_client("jwt.jwks_url"));
                    }
                }
                Ok(PreparedValidator {
                    validator: Self::Local(local),
                    cache: cache.map(|cache| (cache, store)),
                    #[cfg(feature = "http-client")]
                    jwks,
                })
            }
            #[cfg(feature = "http-client")]
            ValidationMode::Remote => Ok(PreparedValidator {
                validator: Self::Remote(
                    crate::client::IntrospectionClient::new(
                        &settings.auth_service.url,
                        settings.internal.token.clone(),
                        &client_options,
                        seed,
                    )?
                    .with_idle_timeout(settings.session.idle_timeout_seconds),
                ),
                cache: None,
                jwks: None,
            }),
            #[cfg(not(feature = "http-client"))]
            ValidationMode::Remote => Err(without_http_client("validation.mode")),
        }
    }

    /// Whether seed-mode userId credentials are accepted.
    pub fn accepts_user_id(&self) -> bool {
        match self {
            Self::Local(v) => v.accepts_user_id(),
            #[cfg(feature = "http-client")]
            Self::Remote(v) => v.accepts_user_id(),
        }
    }

    /// Validates a credential; see [`LocalValidator::validate`].
    pub async fn validate(&self, credential: &Credential) -> Result<Session, AuthError> {
        match self {
            Self::Local(v) => v.validate(credential).await,
            #[cfg(feature = "http-client")]
            Self::Remote(v) => v.validate(credential).await,
        }
    }

    /// What the readiness check asks: Redis (`"redis"`), or in remote mode the
    /// auth-service (`"authService"`); its name and whether it answered.
    pub async fn dependency_up(&self) -> (&'static str, bool) {
        match self {
            Self::Local(local) => ("redis", local.store().ping().await.is_ok()),
            #[cfg(feature = "http-client")]
            Self::Remote(remote) => ("authService", remote.ping().await.is_ok()),
        }
    }

    /// Authenticates a request from what it presented (see [`crate::request::present`]):
    /// the session, or the contract's refusal. The CSRF outcome counts only for a
    /// session that is itself valid. Counts `session_validations_total{outcome}`.
    pub async fn authenticate(
        &self,
        presented: Result<Presented, AuthError>,
    ) -> Result<Session, AuthError> {
        let result = match presented {
            Ok(presented) => {
                let session = self.validate(&presented.credential).await;
                session.and_then(|session| presented.csrf.map(|()| session))
            }
            Err(err) => Err(err),
        };
        match &result {
            Ok(_) => crate::measure::count("session_validations_total", "outcome", "ok"),
            Err(err) => {
                crate::measure::count("session_validations_total", "outcome", err.code().as_str());
                tracing::info!(code = %err.code(), "session refused");
            }
        }
        result
    }
}
