//! The OpenAPI document: generated from the code, equal to the committed copy, valid
//! OpenAPI 3.1, naming every route the service mounts, served while the stores are down.

use auth_service::routes::{ROUTES, openapi::document};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;
use service_kit::openapi::OpenApiDocument;

use crate::helpers::{free_port, spawn_app_with};

const REGENERATE: &str = "UPDATE_OPENAPI=1 cargo test -p auth-service --test api openapi_document_matches_the_committed_copy";

fn generated() -> OpenApiDocument {
    OpenApiDocument::new(&document()).expect("the document serialises")
}

#[test]
fn openapi_document_matches_the_committed_copy() {
    test_support::openapi::assert_committed("auth-service", &generated(), REGENERATE);
}

#[test]
fn openapi_document_is_openapi_3_1_and_names_every_mounted_route() {
    test_support::openapi::assert_names_routes(&generated(), ROUTES);
}

#[tokio::test]
async fn openapi_json_answers_while_redis_and_mongodb_are_down() {
    let app = spawn_app_with(|s| {
        s.redis.url = SecretString::from(format!("redis://127.0.0.1:{}", free_port()));
        s.mongodb.uri = SecretString::from(format!(
            "mongodb://127.0.0.1:{}/?directConnection=true",
            free_port()
        ));
        s.mongodb.timeout_ms = 500;
    })
    .await;
    // The stores really are down for this instance.
    let ready = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    let started = std::time::Instant::now();
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_millis(500));
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(res.bytes().await.unwrap().as_ref(), generated().bytes());
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    // Mail on (to a port nothing listens on: no request here sends one), so the
    // recovery endpoints and pages are mounted as documented.
    let app = spawn_app_with(|s| {
        s.mail.smtp_url = Some(SecretString::from(format!(
            "smtp://127.0.0.1:{}",
            free_port()
        )));
    })
    .await;
    let document: Value = serde_json::from_slice(generated().bytes()).unwrap();
    for (method, path) in service_kit::openapi::operations(&document) {
        // Any value will do for a path parameter: the route must match, nothing more.
        let concrete = path
            .split('/')
            .map(|part| if part.starts_with('{') { "0" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let res = app
            .client
            .request(method.clone(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        assert!(
            !matches!(
                res.status(),
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "{method} {concrete}: {}",
            res.status()
        );
    }
}
