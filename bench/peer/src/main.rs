//! The peer: a session service as a team would write it with actix-session.
//! `POST /login {"userId"}` starts a session (cookie `id`), `GET /me` answers
//! `{"userId"}` from it or 401. PORT and REDIS_URL from the environment.

use actix_session::storage::RedisSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::Key;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Login {
    #[serde(rename = "userId")]
    user_id: String,
}

async fn login(session: Session, body: web::Json<Login>) -> HttpResponse {
    session.renew();
    match session.insert("user_id", &body.user_id) {
        Ok(()) => HttpResponse::Ok().json(json!({ "userId": body.user_id })),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn me(session: Session) -> HttpResponse {
    match session.get::<String>("user_id") {
        Ok(Some(user_id)) => HttpResponse::Ok().json(json!({ "userId": user_id })),
        Ok(None) => HttpResponse::Unauthorized().json(json!({ "error": "missing_session" })),
        Err(_) => HttpResponse::ServiceUnavailable().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8090);
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let store = RedisSessionStore::new(redis)
        .await
        .map_err(|err| std::io::Error::other(err.to_string()))?;
    let key = Key::generate();
    HttpServer::new(move || {
        App::new()
            .wrap(
                SessionMiddleware::builder(store.clone(), key.clone())
                    .cookie_secure(false)
                    .build(),
            )
            .route("/login", web::post().to(login))
            .route("/me", web::get().to(me))
    })
    .workers(2)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
