//! One `main` for every service of ours: telemetry, configuration, build, run.
//!
//! A service says what it is through [`Service`] (its name, its settings and how they
//! load, how it is built into a [`BoundServer`]); [`run`] does the rest the same way
//! for each: it loads the settings, starts telemetry (also when the settings were
//! refused, so the refusal is logged), answers the `healthcheck` subcommand, builds,
//! serves until stopped, and turns every failure into a [`ServiceError`] and exit
//! status 1.

use std::future::Future;
use std::process::ExitCode;

pub use session_core::settings::SettingsError;

use crate::server::BoundServer;
use crate::telemetry::TelemetrySettings;

/// What a service provides to [`run`]; implemented by the service's `Application`.
pub trait Service {
    /// The service's name in logs and traces (`auth-service`).
    const NAME: &'static str;
    /// Its typed settings.
    type Settings;

    /// Loads and checks the settings (defaults < `APP_CONFIG_FILE` < `APP__...`).
    fn load() -> Result<Self::Settings, SettingsError>;
    /// The `telemetry` section of the settings.
    fn telemetry(settings: &Self::Settings) -> &TelemetrySettings;
    /// The port the settings bind, for the `healthcheck` subcommand.
    fn port(settings: &Self::Settings) -> u16;
    /// Builds every part from the settings and binds the listener.
    fn build(settings: Self::Settings) -> impl Future<Output = Result<BoundServer, BuildError>>;
}

/// Implements [`Service`] for a service's `Application`, the same way for each: its
/// settings type has `load()`, a `telemetry` section and `server.port`; its inherent
/// `build`, which returns the [`BoundServer`] that [`serve`](crate::server::serve)
/// bound, is the service's own.
///
/// ```ignore
/// service_kit::service!(Application, Settings, "auth-service");
/// ```
#[macro_export]
macro_rules! service {
    ($application:ty, $settings:ty, $name:literal) => {
        impl $crate::service::Service for $application {
            const NAME: &'static str = $name;
            type Settings = $settings;

            fn load() -> ::std::result::Result<$settings, $crate::service::SettingsError> {
                <$settings>::load()
            }

            fn telemetry(settings: &$settings) -> &$crate::telemetry::TelemetrySettings {
                &settings.telemetry
            }

            fn port(settings: &$settings) -> u16 {
                settings.server.port
            }

            async fn build(
                settings: $settings,
            ) -> ::std::result::Result<$crate::server::BoundServer, $crate::service::BuildError>
            {
                Ok(<$application>::build(settings).await?)
            }
        }
    };
}

/// Why a service could not be built: the service's own error, kept whole.
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// Why a service stopped with a failure.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The configuration was refused (the key at fault is named).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A part could not be built from the settings.
    #[error("start-up: {0}")]
    Build(BuildError),
    /// The server failed while serving.
    #[error("serving: {0}")]
    Serve(#[from] std::io::Error),
}

/// The whole life of service `S`; the binary's `main` is this and nothing else.
/// `<binary> healthcheck` exits 0 when an instance on the configured port is live.
pub async fn run<S: Service>() -> ExitCode {
    match serve::<S>().await {
        Ok(code) => code,
        Err(err) => {
            // As a `main` returning an error would: to stderr, whatever the log filter.
            let mut message = format!("Error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve<S: Service>() -> Result<ExitCode, ServiceError> {
    let settings = S::load();
    let telemetry =
        crate::telemetry::init_service("info", S::NAME, settings.as_ref().ok().map(S::telemetry))?;
    let settings = settings?;
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        // Used by container health checks: exit 0 when this instance answers.
        let live = crate::probe::live(S::port(&settings));
        return Ok(if live {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let app = S::build(settings).await.map_err(ServiceError::Build)?;
    let served = app.run_until_stopped().await;
    telemetry.shutdown().await;
    served?;
    tracing::info!("{} stopped", S::NAME);
    Ok(ExitCode::SUCCESS)
}
