//! The server every service runs: one builder with the shared middleware and limits.

use actix_web::web;

use super::body::{json_config, payload_config};
use super::deadline::{RequestDeadline, body_deadline, default_max_connections};
use super::fallback::not_found;
use super::request_id::request_context;
use crate::settings::ServerSettings;

/// A running service: its port and the server future.
pub struct BoundServer {
    /// The port it listens on (useful when the settings said 0).
    pub port: u16,
    /// The server; await it to serve until SIGTERM or Ctrl-C.
    pub server: actix_web::dev::Server,
}

/// Binds `settings.host:port` and builds the server every service runs: request ids
/// and logging, the JSON and payload limits, the contract's 404 and 405, graceful
/// shutdown. `configure` mounts the service's routes and app data.
pub fn serve<F>(settings: &ServerSettings, configure: F) -> std::io::Result<BoundServer>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let listener = std::net::TcpListener::bind((settings.host.as_str(), settings.port))?;
    let port = listener.local_addr()?.port();
    let deadline = std::time::Duration::from_millis(settings.request_timeout_ms.max(1));
    let workers = if settings.workers > 0 {
        settings.workers
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    };
    let max_connections = match settings.max_connections {
        0 => default_max_connections(workers),
        n => n,
    };
    tracing::debug!(max_connections, ?deadline, "connection limits");
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(actix_web::middleware::from_fn(body_deadline))
            .wrap(actix_web::middleware::from_fn(request_context))
            .app_data(RequestDeadline(deadline))
            .app_data(json_config())
            .app_data(payload_config())
            .configure(configure.clone())
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(settings.shutdown_timeout_seconds)
    .client_request_timeout(deadline)
    .max_connections(max_connections)
    .workers(workers);
    let server = server.listen(listener)?.run();
    Ok(BoundServer { port, server })
}
