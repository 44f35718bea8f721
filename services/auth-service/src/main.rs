//! The auth-service binary: service-kit's one `main` (telemetry, configuration,
//! build, run). `auth-service healthcheck` exits 0 when a running instance on the
//! configured port is live.

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    service_kit::service::run::<auth_service::startup::Application>().await
}
