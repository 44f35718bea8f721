//! Building and running the resource-service.

use actix_web::dev::Server;
use actix_web::web;
use service_kit::openapi::OpenApiDocument;
use service_kit::{BoundServer, serve};
use session_core::{BuildOptions, CookiePolicy, SessionValidator};

use crate::configuration::Settings;
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
            service_kit::metrics::install("resource-service");
        }
        let options = BuildOptions {
            context: Some(service_kit::telemetry::client_context),
        };
        let validator = SessionValidator::build(&settings.validator(), options).await?;
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
