//! The auth-service binary: telemetry, configuration, build, run.

use auth_service::configuration::Settings;
use auth_service::startup::Application;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    session_core::telemetry::init("info");
    let settings = Settings::load()?;
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    tracing::info!("auth-service stopped");
    Ok(())
}
