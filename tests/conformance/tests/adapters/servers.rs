//! A real server of each adapter, on a port of its own, with one route `/me` for every
//! method that answers the session it got (as the resource-service's `GET /me`).

use actix_web::{App, HttpResponse, HttpServer, web};
use axum::routing::any;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::support::Fixture;

/// The adapters under test.
#[derive(Debug, Clone, Copy)]
pub enum Adapter {
    /// session-actix's `Session` extractor.
    Actix,
    /// session-axum's `Session` extractor, with `SessionAuth` as an extension.
    AxumExtractor,
    /// session-axum's `SessionLayer` around the router.
    AxumLayer,
}

fn me(session: &session_core::Session) -> Value {
    json!({
        "userId": session.user_id,
        "email": session.email,
        "expiresAt": session_core::session::rfc3339(session.expires_at),
    })
}

async fn actix_me(session: session_actix::Session) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(me(&session))
}

async fn axum_me(
    session: session_axum::Session,
) -> ([(&'static str, &'static str); 1], Json<Value>) {
    ([("cache-control", "no-store")], Json(me(&session)))
}

impl Adapter {
    /// Every adapter.
    pub const ALL: [Adapter; 3] = [Self::Actix, Self::AxumExtractor, Self::AxumLayer];

    /// Starts a server of this adapter over a validator of `fixture`; its base URL.
    pub async fn start(self, fixture: &Fixture) -> String {
        let validator = fixture.validator();
        let cookies = fixture.cookies.clone();
        let port = match self {
            Self::Actix => {
                let validator = web::Data::new(validator);
                let server = HttpServer::new(move || {
                    let app = App::new().app_data(validator.clone());
                    let app = match &cookies {
                        Some(policy) => app.app_data(policy.clone()),
                        None => app,
                    };
                    app.route("/me", web::route().to(actix_me))
                })
                .workers(1)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .unwrap();
                let port = server.addrs()[0].port();
                tokio::spawn(server.run());
                port
            }
            Self::AxumExtractor | Self::AxumLayer => {
                let auth = session_axum::SessionAuth::new(validator, cookies);
                let router = Router::new().route("/me", any(axum_me));
                let router = match self {
                    Self::AxumLayer => router.layer(session_axum::SessionLayer::new(auth)),
                    _ => router.layer(Extension(auth)),
                };
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let port = listener.local_addr().unwrap().port();
                tokio::spawn(async move { axum::serve(listener, router).await });
                port
            }
        };
        format!("http://127.0.0.1:{port}")
    }
}
