//! A bare handler: `GET /me` answers `{"userId": <the Authorization header's last 24
//! characters>}` without checking anything. PORT from the environment.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::json;

async fn me(req: HttpRequest) -> HttpResponse {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let user_id = &header[header.len().saturating_sub(24)..];
    HttpResponse::Ok().json(json!({ "userId": user_id }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8091);
    HttpServer::new(|| App::new().route("/me", web::get().to(me)))
        .workers(2)
        .bind(("127.0.0.1", port))?
        .run()
        .await
}
