//! `GET /` and `GET /account`: the pages a person signs in and manages sessions with.
//! Plain HTML, CSS and one script, embedded in the binary (no build step, nothing
//! from another origin), under a strict Content-Security-Policy. The pages use the
//! session cookie and the JSON endpoints; a visitor's cookie decides which page they
//! get: signed in, `/` sends them to `/account`; not signed in, `/account` sends them
//! to `/`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use session_core::SessionValidator;
use session_core::request::Source;

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
    match session_actix::cookie::present(req, Some("GET"), false) {
        Ok(presented) if presented.source == Source::Cookie => {
            validator.validate(&presented.credential).await.is_ok()
        }
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
#[utoipa::path(
    get,
    path = "/",
    tag = "pages",
    operation_id = "indexPage",
    summary = "Sign-in and sign-up page",
    description = "The page people sign in and sign up with; a visitor whose session cookie is live goes to `/account`.",
    security((), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The page.", content_type = "text/html; charset=utf-8", body = String,
            headers(
                ("Content-Security-Policy" = String, description = "Scripts, styles and everything else from this origin only; no inline script, no frames."),
                ("Cache-Control" = String, description = "`no-store`."),
            )),
        (status = 303, description = "Signed in: see `/account`.",
            headers(("Location" = String, description = "`/account`."))),
    )
)]
pub async fn index(req: HttpRequest) -> HttpResponse {
    if signed_in(&req).await {
        see_other("/account")
    } else {
        page(INDEX)
    }
}

/// `GET /account`: the signed-in person's sessions; anyone else goes to `/`.
#[utoipa::path(
    get,
    path = "/account",
    tag = "pages",
    operation_id = "accountPage",
    summary = "Account page",
    description = "Who is signed in, this browser's session, the user's sessions with \"sign out\" for each, \"sign out everywhere else\", \"sign out\" and a change-password form. A visitor without a live session cookie goes to `/`.",
    security((), ("sessionCookie" = [])),
    responses(
        (status = 200, description = "The page.", content_type = "text/html; charset=utf-8", body = String,
            headers(
                ("Content-Security-Policy" = String, description = "Scripts, styles and everything else from this origin only; no inline script, no frames."),
                ("Cache-Control" = String, description = "`no-store`."),
            )),
        (status = 303, description = "Not signed in: see `/`.",
            headers(("Location" = String, description = "`/`."))),
    )
)]
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
#[utoipa::path(
    get,
    path = "/assets/app.css",
    tag = "pages",
    operation_id = "pageStyle",
    summary = "The pages' style sheet",
    responses((status = 200, description = "The style sheet.", content_type = "text/css; charset=utf-8", body = String)),
)]
pub async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// `GET /assets/app.js`.
#[utoipa::path(
    get,
    path = "/assets/app.js",
    tag = "pages",
    operation_id = "pageScript",
    summary = "The pages' script",
    responses((status = 200, description = "The script.", content_type = "text/javascript; charset=utf-8", body = String)),
)]
pub async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}
