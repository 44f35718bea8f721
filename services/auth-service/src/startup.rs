//! Building and running the auth-service.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::web;
use service_kit::forwarded::TrustedProxies;
use service_kit::openapi::OpenApiDocument;
use service_kit::{BoundServer, serve};
use session_core::cache::{ValidationCache, spawn_beat};
use session_core::settings::JwtAlgorithm;
use session_core::{CookiePolicy, keys};
use session_core::{LocalValidator, SessionStore, SessionValidator, TokenCodec};

use crate::accounts::Accounts;
use crate::configuration::Settings;
use crate::mail::Mailer;
use crate::password::Passwords;
use crate::recovery::Recovery;
use crate::routes;
use crate::routes::{AdminToken, InternalToken, Verifier};
use crate::throttle::Throttle;
use crate::users::UserRepository;
use crate::webhooks::Delivery;

/// A built auth-service, bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Builds every part from `settings` and binds the listener (port 0 picks one).
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        if settings.metrics.enabled {
            service_kit::metrics::install("auth-service");
        }
        if settings.session.accept_user_id_header {
            tracing::warn!(
                "session.accept_user_id_header is on: /session and /logout accept a bare userId; anyone who knows a userId passes. Use only on a trusted network."
            );
        }
        // Production refuses a missing key in `Settings::check`.
        if settings.jwt.algorithm == JwtAlgorithm::EdDSA && settings.jwt.signing_key.is_none() {
            settings.jwt.signing_key = Some(keys::generate_signing_key_pem()?);
            let kid = format!("dev-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            tracing::warn!(kid = %kid, "no jwt.signing_key: made a new Ed25519 key for this run; its sessions will not verify after a restart");
            settings.jwt.signing_key_id = Some(kid);
        }
        let codec = Arc::new(TokenCodec::new(&settings.jwt)?);
        if let Some(kid) = codec.signing_key_id() {
            tracing::info!(kid, "signing sessions with EdDSA");
        }
        let mut store =
            SessionStore::new(&settings.redis, &settings.session)?.emitting(&settings.events);
        // /verify's validation cache, when on: this instance's own session changes drop
        // its entries before they answer (others hear of them on the channel).
        let verify_cache = settings.validation.cache.then(|| {
            ValidationCache::start(
                &store,
                settings.validation.cache_max_entries,
                Duration::from_millis(settings.validation.cache_max_age_ms),
                Duration::from_millis(settings.validation.cache_heartbeat_ms),
            )
        });
        if let Some(cache) = &verify_cache {
            store = store.telling(cache.clone());
        }
        let users = UserRepository::connect(&settings.mongodb)
            .await
            .map_err(|_| anyhow::anyhow!("mongodb.uri is not a valid MongoDB connection string"))?;
        let warm = users.clone();
        tokio::spawn(async move {
            // The unique index is created at start; if MongoDB is not up yet, sign-up
            // creates it on first use.
            if warm.ensure_indexes().await.is_err() {
                tracing::warn!(
                    "MongoDB not reachable at start; the users index will be created on first sign-up"
                );
            }
        });
        let passwords = Passwords::new(settings.password.bcrypt_cost, settings.password.max_queue)
            .await
            .map_err(|_| anyhow::anyhow!("bcrypt could not hash at the configured cost"))?;
        let throttle = Throttle::new(
            store.redis().clone(),
            &settings.session.key_prefix,
            settings.login.clone(),
            settings.signup.clone(),
        );
        let mut accounts = Accounts::new(
            users.clone(),
            store.clone(),
            codec.clone(),
            passwords.clone(),
            throttle.clone(),
            settings.session.accept_user_id_header,
        );
        if let Some(delivery) = Delivery::new(&settings, accounts.store().redis().clone())? {
            delivery.spawn();
        }
        // Mail on: recovery and verification (the settings' check named the keys).
        if let Some(mailer) = Mailer::from_settings(&settings.mail)? {
            let recovery =
                Recovery::start(users, store.clone(), passwords, throttle, mailer, &settings);
            accounts = accounts.with_recovery(recovery, settings.signup.verify_email);
            tracing::info!(
                verify_email = settings.signup.verify_email,
                "mail on: password reset and email verification"
            );
        }
        let codec_for_jwks = codec.clone();
        let validator = SessionValidator::Local(LocalValidator::new(
            codec,
            store,
            settings.session.accept_user_id_header,
        ));

        // The beat every validation cache listens for (its end-to-end heartbeat).
        spawn_beat(
            accounts.store().clone(),
            accounts.store().invalidation_channel().to_owned(),
        );
        let mut verifier =
            LocalValidator::new(codec_for_jwks.clone(), accounts.store().clone(), false);
        if let Some(cache) = verify_cache {
            verifier = verifier.with_cache(cache);
            tracing::info!("validation cache enabled for /verify");
        }
        let verifier = web::Data::new(Verifier(verifier));
        let cookies = CookiePolicy::from_settings(&settings.session.cookie);
        let accounts = web::Data::new(accounts);
        let codec_data = web::Data::from(codec_for_jwks);
        let validator = web::Data::new(validator);
        let internal = web::Data::new(InternalToken(settings.internal.token.clone()));
        let admin = web::Data::new(AdminToken(settings.admin.token.clone()));
        let proxies = web::Data::new(TrustedProxies::parse(
            settings.server.trusted_proxies.as_deref(),
        )?);
        // Built once: /openapi.json serves these bytes and touches no store.
        let openapi = web::Data::new(OpenApiDocument::new(&routes::openapi::document())?);
        let BoundServer { port, server } = serve(&settings.server, move |cfg| {
            if let Some(policy) = &cookies {
                cfg.app_data(policy.clone());
            }
            cfg.app_data(accounts.clone())
                .app_data(validator.clone())
                .app_data(internal.clone())
                .app_data(admin.clone())
                .app_data(proxies.clone())
                .app_data(verifier.clone())
                .app_data(codec_data.clone())
                .app_data(openapi.clone())
                .configure(routes::config);
        })?;
        tracing::info!(port, "auth-service listening");
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
