//! `GET /` and `GET /account`: the pages a person signs in and manages sessions with.
//! Plain HTML, CSS and one script, embedded in the binary (no build step, nothing
//! from another origin), under a strict Content-Security-Policy. The pages use the
//! session cookie and the JSON endpoints; a visitor's cookie decides which page they
//! get: signed in, `/` sends them to `/account`; not signed in, `/account` sends them
//! to `/`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use session_core::SessionValidator;
use session_core::http::cookie::{Source, session_credential};

const INDEX: &str = include_str!("../../web/index.html");
const ACCOUNT: &str = include_str!("../../web/account.html");
const STYLE: &str = include_str!("../../web/app.css");
const SCRIPT: &str = include_str!("../../web/app.js");

/// Scripts and styles from this origin's files only, nothing inline, no frames.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// True when the request's session cookie is a live session.
async fn signed_in(req: &HttpRequest) -> bool {
    let Some(validator) = req.app_data::<web::Data<SessionValidator>>() else {
        return false;
    };
    match session_credential(req, false) {
        Ok((credential, Source::Cookie)) => validator.validate(&credential, None).await.is_ok(),
        _ => false,
    }
}

fn page(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn see_other(to: &'static str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `GET /`: sign in and sign up; a signed-in visitor goes to `/account`.
pub async fn index(req: HttpRequest) -> HttpResponse {
    if signed_in(&req).await {
        see_other("/account")
    } else {
        page(INDEX)
    }
}

/// `GET /account`: the signed-in person's sessions; anyone else goes to `/`.
pub async fn account(req: HttpRequest) -> HttpResponse {
    if signed_in(&req).await {
        page(ACCOUNT)
    } else {
        see_other("/")
    }
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// `GET /assets/app.css`.
pub async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// `GET /assets/app.js`.
pub async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}
