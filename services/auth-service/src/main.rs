//! The auth-service binary: telemetry, configuration, build, run.
//! `auth-service healthcheck` exits 0 when a running instance on the configured port is live.

use auth_service::configuration::Settings;
use auth_service::startup::Application;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load();
    let telemetry = service_kit::telemetry::init_service(
        "info",
        "auth-service",
        settings.as_ref().ok().map(|s| &s.telemetry),
    )?;
    let settings = settings?;
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        // Used by container health checks: exit 0 when this instance answers.
        let live = service_kit::probe::live(settings.server.port);
        std::process::exit(if live { 0 } else { 1 });
    }
    let app = Application::build(settings).await?;
    let served = app.run_until_stopped().await;
    telemetry.shutdown().await;
    served?;
    tracing::info!("auth-service stopped");
    Ok(())
}
