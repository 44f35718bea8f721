//! The actix-web extractor and the contract's error responses, against a real Redis.

use std::sync::Arc;

use actix_web::{App, HttpResponse, test, web};
use session_core::settings::SessionSettings;
use session_core::{LocalValidator, Session, SessionStore, SessionValidator, TokenCodec};

use crate::support::{jwt_settings, redis_settings, redis_url, session_settings, unique_prefix};

async fn me(session: Session) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"userId": session.user_id, "email": session.email}))
}

fn validator(redis_url: &str, seed: bool) -> (SessionValidator, SessionStore, Arc<TokenCodec>) {
    let store = SessionStore::new(
        &redis_settings(redis_url, 300),
        &SessionSettings {
            accept_user_id_header: seed,
            ..session_settings(&unique_prefix("extract"), 600)
        },
    )
    .expect("store");
    let codec = Arc::new(TokenCodec::new(&jwt_settings()).expect("codec"));
    let v = SessionValidator::Local(LocalValidator::new(codec.clone(), store.clone(), seed));
    (v, store, codec)
}

#[actix_web::test]
async fn extractor_yields_the_session_and_refuses_with_contract_bodies() {
    let (v, store, codec) = validator(&redis_url(), false);
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(v))
            .wrap(actix_web::middleware::from_fn(
                session_core::http::request_context,
            ))
            .route("/me", web::get().to(me)),
    )
    .await;
    let user = "65a1b2c3d4e5f60718293a4b";
    let (token, _) = codec.issue(user, "ada@example.com", 600).expect("issue");
    store.create_or_reuse(user, &token).await.expect("store");

    let req = test::TestRequest::get()
        .uri("/me")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("X-Request-Id", "req-123"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("x-request-id").map(|v| v.as_bytes()),
        Some(&b"req-123"[..])
    );
    assert_eq!(
        res.headers()
            .get("x-content-type-options")
            .map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["email"], "ada@example.com");

    let cases: Vec<(Option<String>, &str, &str)> = vec![
        (
            None,
            "missing_authorization",
            "Bearer realm=\"session-store\"",
        ),
        (
            Some("Bearer".into()),
            "missing_user_id",
            "Bearer realm=\"session-store\"",
        ),
        (
            Some("Bearer not.a.jwt".into()),
            "invalid_token",
            "Bearer realm=\"session-store\", error=\"invalid_token\"",
        ),
        (
            Some(user.into()),
            "invalid_token",
            "Bearer realm=\"session-store\", error=\"invalid_token\"",
        ),
    ];
    for (header, code, www) in cases {
        let mut req = test::TestRequest::get().uri("/me");
        if let Some(h) = &header {
            req = req.insert_header(("Authorization", h.as_str()));
        }
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), 401, "{header:?}");
        assert_eq!(
            res.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some(www),
            "{header:?}"
        );
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["error"], code, "{header:?}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[actix_web::test]
async fn redis_down_is_503_with_retry_after() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let (v, _store, codec) = validator(&format!("redis://127.0.0.1:{port}"), false);
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(v))
            .route("/me", web::get().to(me)),
    )
    .await;
    let (token, _) = codec
        .issue("65a1b2c3d4e5f60718293a4b", "a@example.com", 600)
        .expect("issue");
    let req = test::TestRequest::get()
        .uri("/me")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["error"], "service_unavailable");
}

/// A request's validation future is moved (copied) once for every level of futures it
/// passes through; a connection set-up held inline (the pool's, kilobytes with TLS)
/// once made every request copy some 15 KB. Set-ups are boxed; this keeps it so.
#[actix_web::test]
async fn validating_a_request_carries_no_connection_set_up_in_its_future() {
    let (v, store, _codec) = validator(&redis_url(), false);
    let credential = session_core::Credential::Bearer("t".into());
    let req = test::TestRequest::default().to_http_request();
    let sizes = [
        ("held", std::mem::size_of_val(&store.held("u", "s"))),
        (
            "validate",
            std::mem::size_of_val(&v.validate(&credential, None)),
        ),
        (
            "authenticate",
            std::mem::size_of_val(&session_core::http::extractor::authenticate(&req)),
        ),
    ];
    for (what, size) in sizes {
        assert!(size <= 4096, "the {what} future is {size} bytes");
    }
}
