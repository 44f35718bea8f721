//! The one composition root: the validator from the settings, the router, the listener.
//! The binary and the tests build the service through [`Application::build`].

use axum::Router;
use axum::extract::Extension;
use axum::routing::get;
use session_axum::SessionAuth;
use session_core::{BuildOptions, CookiePolicy, SessionValidator};
use tokio::net::TcpListener;

use crate::configuration::Settings;
use crate::routes;

/// The router: `/me` behind session validation, health, and the contract's 404/405.
pub fn router(auth: SessionAuth) -> Router {
    Router::new()
        .route("/me", get(routes::me))
        .route("/health/live", get(routes::live))
        .route("/health/ready", get(routes::ready))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(Extension(auth))
}

/// A built service, bound to its port, not yet serving.
pub struct Application {
    port: u16,
    listener: TcpListener,
    router: Router,
}

impl Application {
    /// Builds the validator `settings` describe and binds the listener (port 0 picks one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let validator =
            SessionValidator::build(&settings.validator(), BuildOptions::default()).await?;
        let auth = SessionAuth::new(
            validator,
            CookiePolicy::from_settings(&settings.session.cookie),
        );
        let listener =
            TcpListener::bind((settings.server.host.as_str(), settings.server.port)).await?;
        let port = listener.local_addr()?.port();
        tracing::info!(port, "axum-service listening");
        Ok(Self {
            port,
            listener,
            router: router(auth),
        })
    }

    /// The port the service listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C; in-flight requests finish first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(stopped())
            .await
    }
}

/// Resolves at SIGTERM or Ctrl-C.
async fn stopped() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
