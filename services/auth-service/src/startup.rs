//! Building and running the auth-service. [`prepare`] is its one composition root:
//! the binary ([`Application::build`]), `sessionctl config check` and the tests build
//! the service's parts through it.

use std::sync::Arc;

use actix_web::web;
use service_kit::forwarded::TrustedProxies;
use service_kit::openapi::OpenApiDocument;
use service_kit::service::Service;
use service_kit::{BoundServer, serve};
use session_core::cache::{ConfiguredCache, ValidationCache, spawn_beat};
use session_core::settings::{JwtAlgorithm, JwtSettings};
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

/// Everything the auth-service builds from its settings before anything runs: keys
/// read, URLs parsed, clients made; nothing spawned, nothing contacted, no port bound.
pub struct Prepared {
    /// The token codec.
    pub codec: Arc<TokenCodec>,
    /// The session store; it announces events and tells `/verify`'s cache.
    pub store: SessionStore,
    /// `/verify`'s validation cache when on, its listener not started.
    pub verify_cache: Option<ConfiguredCache>,
    /// The users collection (connection string parsed).
    pub users: UserRepository,
    /// Webhook delivery, when `webhook.url` is set and events are on.
    pub webhooks: Option<Delivery>,
    /// The mail transport, when `mail.smtp_url` is set.
    pub mailer: Option<Mailer>,
    /// The session cookie's policy, when cookies are on.
    pub cookies: Option<CookiePolicy>,
    /// `server.trusted_proxies`, parsed.
    pub proxies: TrustedProxies,
}

/// Builds every part `settings` describe (see [`Prepared`]).
pub async fn prepare(settings: &Settings) -> anyhow::Result<Prepared> {
    let codec = Arc::new(codec(&settings.jwt)?);
    if let Some(kid) = codec.signing_key_id() {
        tracing::info!(kid, "signing sessions with EdDSA");
    }
    let mut store =
        SessionStore::new(&settings.redis, &settings.session)?.emitting(&settings.events);
    // This instance's own session changes drop /verify's entries before they answer
    // (others hear of them on the channel).
    let verify_cache = ValidationCache::configured(&(&settings.validation).into());
    if let Some(cache) = &verify_cache {
        store = store.telling(cache.cache().clone());
    }
    let users = UserRepository::connect(&settings.mongodb)
        .await
        .map_err(|_| anyhow::anyhow!("mongodb.uri is not a valid MongoDB connection string"))?;
    Ok(Prepared {
        webhooks: Delivery::new(settings, store.redis().clone())?,
        mailer: Mailer::from_settings(&settings.mail)?,
        cookies: CookiePolicy::from_settings(&settings.session.cookie),
        proxies: TrustedProxies::parse(settings.server.trusted_proxies.as_deref())?,
        codec,
        store,
        verify_cache,
        users,
    })
}

/// The codec of `jwt`. EdDSA without a signing key (production refuses it in
/// `Settings::check`) gets a new key for this run, with a warning.
fn codec(jwt: &JwtSettings) -> anyhow::Result<TokenCodec> {
    if jwt.algorithm != JwtAlgorithm::EdDSA || jwt.signing_key.is_some() {
        return Ok(TokenCodec::new(jwt)?);
    }
    let kid = format!("dev-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    tracing::warn!(kid = %kid, "no jwt.signing_key: made a new Ed25519 key for this run; its sessions will not verify after a restart");
    Ok(TokenCodec::new(&JwtSettings {
        signing_key: Some(keys::generate_signing_key_pem()?),
        signing_key_id: Some(kid),
        ..jwt.clone()
    })?)
}

/// What the routes are handed, once started.
#[derive(Clone)]
struct AppData {
    accounts: web::Data<Accounts>,
    validator: web::Data<SessionValidator>,
    verifier: web::Data<Verifier>,
    codec: web::Data<TokenCodec>,
    internal: web::Data<InternalToken>,
    admin: web::Data<AdminToken>,
    proxies: web::Data<TrustedProxies>,
    openapi: web::Data<OpenApiDocument>,
    cookies: Option<CookiePolicy>,
}

impl Prepared {
    /// Starts what runs beside the requests (the index, webhooks, mail, the caches'
    /// beat and listener) and wires the parts the routes use.
    async fn start(self, settings: &Settings) -> anyhow::Result<AppData> {
        let Self {
            codec,
            store,
            verify_cache,
            users,
            webhooks,
            mailer,
            cookies,
            proxies,
        } = self;
        let (codec, store, users) = (&codec, &store, &users);
        let warm = users.clone();
        tokio::spawn(async move {
            // If MongoDB is not up yet, sign-up creates the unique index on first use.
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
        let seed = settings.session.accept_user_id_header;
        let mut accounts = Accounts::new(
            users.clone(),
            store.clone(),
            codec.clone(),
            passwords.clone(),
            throttle.clone(),
            seed,
        );
        if let Some(delivery) = webhooks {
            delivery.spawn();
        }
        // Mail on: recovery and verification (the settings' check named the keys).
        if let Some(mailer) = mailer {
            let recovery = Recovery::start(
                users.clone(),
                store.clone(),
                passwords,
                throttle,
                mailer,
                settings,
            );
            accounts = accounts.with_recovery(recovery, settings.signup.verify_email);
            tracing::info!(
                verify_email = settings.signup.verify_email,
                "mail on: password reset and email verification"
            );
        }
        // The beat every validation cache listens for (its end-to-end heartbeat).
        spawn_beat(store.clone(), store.invalidation_channel().to_owned());
        let mut verifier = LocalValidator::new(codec.clone(), store.clone(), false);
        if let Some(cache) = verify_cache {
            verifier = verifier.with_cache(cache.start(store));
            tracing::info!("validation cache enabled for /verify");
        }
        Ok(AppData {
            accounts: web::Data::new(accounts),
            validator: web::Data::new(SessionValidator::Local(LocalValidator::new(
                codec.clone(),
                store.clone(),
                seed,
            ))),
            verifier: web::Data::new(Verifier(verifier)),
            codec: web::Data::from(codec.clone()),
            internal: web::Data::new(InternalToken(settings.internal.token.clone())),
            admin: web::Data::new(AdminToken(settings.admin.token.clone())),
            proxies: web::Data::new(proxies),
            // Built once (it does not depend on the settings): /openapi.json serves
            // these bytes and touches no store.
            openapi: web::Data::new(OpenApiDocument::new(&routes::openapi::document())?),
            cookies,
        })
    }
}

impl AppData {
    fn configure(&self, cfg: &mut web::ServiceConfig) {
        if let Some(policy) = &self.cookies {
            cfg.app_data(policy.clone());
        }
        cfg.app_data(self.accounts.clone())
            .app_data(self.validator.clone())
            .app_data(self.internal.clone())
            .app_data(self.admin.clone())
            .app_data(self.proxies.clone())
            .app_data(self.verifier.clone())
            .app_data(self.codec.clone())
            .app_data(self.openapi.clone())
            .configure(routes::config);
    }
}

/// The auth-service as service-kit runs it ([`Service`]): [`Application::build`] gives
/// it bound to its port, not yet running.
pub struct Application;

impl Application {
    /// Builds every part from `settings` through [`prepare`], starts them and binds the
    /// listener (port 0 picks one).
    pub async fn build(settings: Settings) -> anyhow::Result<BoundServer> {
        if settings.metrics.enabled {
            service_kit::metrics::install(Self::NAME);
        }
        if settings.session.accept_user_id_header {
            tracing::warn!(
                "session.accept_user_id_header is on: /session and /logout accept a bare userId; anyone who knows a userId passes. Use only on a trusted network."
            );
        }
        let data = prepare(&settings).await?.start(&settings).await?;
        Ok(serve(Self::NAME, &settings.server, move |cfg| {
            data.configure(cfg)
        })?)
    }
}

service_kit::service!(Application, Settings, "auth-service");
