//! Building and running the resource-service. [`prepare`] is its one composition
//! root: the binary ([`Application::build`]), `sessionctl config check` and the tests
//! build the service's parts through it.

use actix_web::web;
use service_kit::openapi::OpenApiDocument;
use service_kit::service::Service;
use service_kit::{BoundServer, serve};
use session_core::{BuildOptions, CookiePolicy, PreparedValidator, SessionValidator};

use crate::configuration::Settings;
use crate::routes;

/// Everything the resource-service builds from its settings before anything runs:
/// keys read, URLs parsed, clients made; nothing spawned, nothing contacted.
#[derive(Debug)]
pub struct Prepared {
    /// The validator for the configured mode, not yet started.
    pub validator: PreparedValidator,
    /// The session cookie's policy, when cookies are on.
    pub cookies: Option<CookiePolicy>,
}

/// Builds every part `settings` describe (see [`Prepared`]).
pub fn prepare(settings: &Settings) -> anyhow::Result<Prepared> {
    let options = BuildOptions {
        context: Some(service_kit::telemetry::client_context),
    };
    Ok(Prepared {
        validator: SessionValidator::prepare(&settings.validator(), options)?,
        cookies: CookiePolicy::from_settings(&settings.session.cookie),
    })
}

/// The resource-service as service-kit runs it ([`Service`]): [`Application::build`]
/// gives it bound to its port, not yet running.
pub struct Application;

impl Application {
    /// Builds the parts through [`prepare`], starts the validator and binds the
    /// listener (port 0 picks one).
    pub async fn build(settings: Settings) -> anyhow::Result<BoundServer> {
        if settings.metrics.enabled {
            service_kit::metrics::install(Self::NAME);
        }
        let Prepared { validator, cookies } = prepare(&settings)?;
        let validator = web::Data::new(validator.start().await);
        // Built once (it does not depend on the settings): /openapi.json serves these
        // bytes and touches no store.
        let openapi = web::Data::new(OpenApiDocument::new(&routes::openapi::document())?);
        Ok(serve(Self::NAME, &settings.server, move |cfg| {
            if let Some(policy) = &cookies {
                cfg.app_data(policy.clone());
            }
            cfg.app_data(validator.clone())
                .app_data(openapi.clone())
                .configure(routes::config);
        })?)
    }
}

service_kit::service!(Application, Settings, "resource-service");
