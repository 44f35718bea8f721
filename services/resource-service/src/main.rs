//! The resource-service binary: telemetry, configuration, build, run.

use resource_service::configuration::Settings;
use resource_service::startup::Application;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    session_core::telemetry::init("info");
    let settings = Settings::load()?;
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    tracing::info!("resource-service stopped");
    Ok(())
}
