//! Building and running the resource-service.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::web;
use session_core::cache::{ValidationCache, spawn_listener};
use session_core::client::{ClientOptions, IntrospectionClient, JwksFetcher};
use session_core::http::openapi::OpenApiDocument;
use session_core::http::{BoundServer, CookiePolicy, serve};
use session_core::settings::JwtAlgorithm;
use session_core::{LocalValidator, SessionStore, SessionValidator, TokenCodec};

use crate::configuration::{Settings, ValidationMode};
use crate::routes;

/// A built resource-service, bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Builds the validator for the configured mode and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        if settings.metrics.enabled {
            session_core::http::metrics::install("resource-service");
        }
        let seed = settings.session.accept_user_id_header;
        let client_options = ClientOptions {
            timeout: Duration::from_millis(settings.validation.timeout_ms.max(1)),
            proxy: settings.auth_service.proxy.clone(),
            ca_file: settings.auth_service.ca_file.clone(),
        };
        if seed {
            tracing::warn!(
                "session.accept_user_id_header is on: a bare userId is accepted as a credential; anyone who knows a userId passes. Use only on a trusted network."
            );
        }
        let validator = match settings.validation.mode {
            ValidationMode::Redis => {
                let codec = Arc::new(TokenCodec::new(&settings.jwt)?);
                let store = SessionStore::new(&settings.redis, &settings.session)?;
                let channel = store.invalidation_channel().to_owned();
                let mut local = LocalValidator::new(codec.clone(), store.clone(), seed);
                if settings.validation.cache {
                    let cache = ValidationCache::new(settings.validation.cache_max_entries)
                        .with_max_age(Duration::from_millis(settings.validation.cache_max_age_ms));
                    let cache = Arc::new(cache);
                    spawn_listener(
                        cache.clone(),
                        store.clone(),
                        channel,
                        Duration::from_millis(settings.validation.cache_heartbeat_ms.max(10)),
                    );
                    local = local.with_cache(cache);
                    tracing::info!("validation cache enabled");
                }
                if let (JwtAlgorithm::EdDSA, Some(url)) =
                    (settings.jwt.algorithm, settings.jwt.jwks_url.as_deref())
                {
                    let fetcher =
                        JwksFetcher::new(url, codec, &client_options, Duration::from_secs(30))?;
                    // A failure here is not fatal: the first token with an unknown key
                    // id fetches again.
                    fetcher.fetch().await;
                    local = local.with_key_refresher(Arc::new(fetcher));
                }
                SessionValidator::Local(local)
            }
            ValidationMode::Remote => SessionValidator::Remote(
                IntrospectionClient::new(
                    &settings.auth_service.url,
                    settings.internal.token.clone(),
                    &client_options,
                    seed,
                )?
                .with_idle_timeout(settings.session.idle_timeout_seconds),
            ),
        };
        tracing::info!(mode = ?settings.validation.mode, "session validation");

        let validator = web::Data::new(validator);
        // Built once: /openapi.json serves these bytes and touches no store.
        let openapi = web::Data::new(OpenApiDocument::new(&routes::openapi::document())?);
        let cookies = CookiePolicy::from_settings(&settings.session.cookie);
        let BoundServer { port, server } = serve(&settings.server, move |cfg| {
            if let Some(policy) = &cookies {
                cfg.app_data(policy.clone());
            }
            cfg.app_data(validator.clone())
                .app_data(openapi.clone())
                .configure(routes::config);
        })?;
        tracing::info!(port, "resource-service listening");
        Ok(Self { port, server })
    }

    /// The port the service listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C; in-flight requests finish first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
