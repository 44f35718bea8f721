//! `GET /` and `GET /account`: the pages a person signs in and manages sessions with;
//! `GET /reset` and `GET /welcome`: the pages reset and verification mails link to
//! (only while mail is on; `/` offers "Forgot your password?" only then too).
//! Plain HTML, CSS and one script, embedded in the binary (no build step, nothing
//! from another origin), under a strict Content-Security-Policy. The pages use the
//! session cookie and the JSON endpoints; a visitor's cookie decides which page they
//! get: signed in, `/` sends them to `/account`; not signed in, `/account` sends them
//! to `/`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use session_core::{ErrorCode, SessionValidator};

use crate::accounts::Accounts;
use crate::error::ApiError;
use session_core::request::Source;

const INDEX: &str = include_str!("../../web/index.html");
const ACCOUNT: &str = include_str!("../../web/account.html");
const RESET: &str = include_str!("../../web/reset.html");
const WELCOME: &str = include_str!("../../web/welcome.html");

/// The part of `/` shown only while mail is on, between these markers.
const RECOVERY_START: &str = "<!-- recovery -->";
const RECOVERY_END: &str = "<!-- /recovery -->";

/// `/` without its recovery part (mail off).
fn index_without_recovery() -> &'static str {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PAGE.get_or_init(
        || match (INDEX.find(RECOVERY_START), INDEX.find(RECOVERY_END)) {
            (Some(start), Some(end)) if start < end => {
                format!("{}{}", &INDEX[..start], &INDEX[end + RECOVERY_END.len()..])
            }
            _ => INDEX.to_owned(),
        },
    )
}
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
pub async fn index(req: HttpRequest, accounts: web::Data<Accounts>) -> HttpResponse {
    if signed_in(&req).await {
        see_other("/account")
    } else if accounts.recovery().is_some() {
        page(INDEX)
    } else {
        page(index_without_recovery())
    }
}

/// `GET /reset`: the page a reset mail links to (`/reset#token=...`).
#[utoipa::path(
    get,
    path = "/reset",
    tag = "pages",
    operation_id = "resetPage",
    summary = "Password reset page",
    description = "The page a reset mail links to, `/reset#token=...`: the token travels in the fragment, so no server log or `Referer` sees it. The page asks for the new password, posts it with the token to `/password/reset`, then offers to sign in. Without `mail.smtp_url`: `404`.",
    responses(
        (status = 200, description = "The page.", content_type = "text/html; charset=utf-8", body = String,
            headers(
                ("Content-Security-Policy" = String, description = "Scripts, styles and everything else from this origin only; no inline script, no frames."),
                ("Cache-Control" = String, description = "`no-store`."),
            )),
        (status = 404, description = "`not_found`: mail is off.", body = session_core::ErrorBody),
    )
)]
pub async fn reset(accounts: web::Data<Accounts>) -> Result<HttpResponse, ApiError> {
    mail_page(&accounts, RESET)
}

/// `GET /welcome`: the page a verification mail links to (`/welcome#token=...`).
#[utoipa::path(
    get,
    path = "/welcome",
    tag = "pages",
    operation_id = "welcomePage",
    summary = "Email verification page",
    description = "The page a verification mail links to, `/welcome#token=...`: it posts the token to `/email/verify` and says whether it worked (and offers a new link when it did not). Without `mail.smtp_url`: `404`.",
    responses(
        (status = 200, description = "The page.", content_type = "text/html; charset=utf-8", body = String,
            headers(
                ("Content-Security-Policy" = String, description = "Scripts, styles and everything else from this origin only; no inline script, no frames."),
                ("Cache-Control" = String, description = "`no-store`."),
            )),
        (status = 404, description = "`not_found`: mail is off.", body = session_core::ErrorBody),
    )
)]
pub async fn welcome(accounts: web::Data<Accounts>) -> Result<HttpResponse, ApiError> {
    mail_page(&accounts, WELCOME)
}

fn mail_page(accounts: &Accounts, body: &'static str) -> Result<HttpResponse, ApiError> {
    match accounts.recovery() {
        Some(_) => Ok(page(body)),
        None => Err(ApiError::new(ErrorCode::NotFound)),
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
