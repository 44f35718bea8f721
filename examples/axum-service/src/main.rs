//! The axum-service binary: logs, configuration, build, run.

use axum_service::configuration::Settings;
use axum_service::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let settings = Settings::load()?;
    let app = Application::build(settings).await?;
    app.run_until_stopped().await?;
    tracing::info!("axum-service stopped");
    Ok(())
}
