//! The server every service runs: one builder with the shared middleware and limits.

use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::web;

use crate::bare::Contracted;
use crate::body::{json_config, payload_config};
use crate::deadline::{RequestDeadline, default_max_connections};
use crate::fallback::not_found;
use crate::request_id::request_context;
use session_core::settings::ServerSettings;

/// A built service, bound to its port, not yet running: what a service's
/// `Application::build` returns.
pub struct BoundServer {
    port: u16,
    server: actix_web::dev::Server,
}

impl BoundServer {
    /// The port the service listens on (useful when the settings said 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C; in-flight requests finish first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Binds `settings.host:port` and builds the server every service runs: request ids
/// and logging, the JSON and payload limits, the contract's 404 and 405, graceful
/// shutdown. `configure` mounts the service's routes and app data; `name` (the
/// service's, `auth-service`) is logged with the port once bound.
pub fn serve<F>(name: &str, settings: &ServerSettings, configure: F) -> std::io::Result<BoundServer>
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
    let addr = listener.local_addr()?;
    let builder = actix_server::Server::build();
    let graceful = builder.graceful_shutdown_signal();
    // What actix-web's HttpServer assembles, with one step more: each connection is
    // wrapped in `Contracted` so the parser's own 400/431/408 carry the contract's body.
    let server = builder
        .workers(workers)
        .max_concurrent_connections(max_connections)
        .shutdown_timeout(settings.shutdown_timeout_seconds)
        .backlog(1024)
        .listen("session-store", listener, move || {
            let app = actix_web::App::new()
                .wrap(actix_web::middleware::from_fn(request_context))
                .app_data(RequestDeadline(deadline))
                .app_data(json_config())
                .app_data(payload_config())
                .service(
                    crate::fallback::resource("/metrics")
                        .route(web::get().to(crate::metrics::render)),
                )
                .configure(configure.clone())
                .default_service(web::to(not_found));
            let graceful = graceful.clone();
            let http = actix_http::HttpService::build()
                .client_request_timeout(deadline)
                .local_addr(addr)
                .graceful_shutdown_signal(move || {
                    let signal = graceful.clone();
                    async move { signal.notified().await }
                })
                .finish(map_config(
                    app.into_factory()
                        .map_err(|err: actix_web::Error| err.error_response()),
                    |_| actix_web::dev::AppConfig::default(),
                ));
            fn_service(|io: actix_web::rt::net::TcpStream| {
                let _ = io.set_nodelay(true);
                let peer = io.peer_addr().ok();
                std::future::ready(Ok::<_, actix_http::error::DispatchError>((
                    Contracted::new(io),
                    actix_http::Protocol::Http1,
                    peer,
                )))
            })
            .and_then(http)
        })?
        .run();
    tracing::info!(port, "{name} listening");
    Ok(BoundServer { port, server })
}
