//! The OpenAPI document: generated from the code, equal to the committed copy, valid
//! OpenAPI 3.1, naming every route the service mounts, served while the stores are down.

use std::collections::BTreeSet;
use std::path::PathBuf;

use auth_service::routes::{ROUTES, openapi::document};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;
use service_kit::openapi::{OpenApiDocument, SERVER_ROUTES};

use crate::helpers::{free_port, spawn_app_with};

const REGENERATE: &str = "UPDATE_OPENAPI=1 cargo test -p auth-service --test api openapi_document_matches_the_committed_copy";

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi/auth-service.json")
}

fn generated() -> Vec<u8> {
    OpenApiDocument::new(&document())
        .expect("the document serialises")
        .bytes()
        .to_vec()
}

#[test]
fn openapi_document_matches_the_committed_copy() {
    service_kit::openapi::check_committed(&generated(), &committed_path(), REGENERATE);
}

#[test]
fn openapi_document_is_openapi_3_1_and_names_every_mounted_route() {
    let document: Value = serde_json::from_slice(&generated()).unwrap();
    service_kit::openapi::check_document(&document);
    let mounted: BTreeSet<(String, String)> = ROUTES
        .iter()
        .chain(SERVER_ROUTES)
        .map(|(method, path)| ((*method).to_owned(), service_kit::openapi::template(path)))
        .collect();
    assert_eq!(
        service_kit::openapi::operations(&document),
        mounted,
        "the document's operations are not the routes the service mounts"
    );
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
    assert_eq!(res.bytes().await.unwrap().as_ref(), generated().as_slice());
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
    let document: Value = serde_json::from_slice(&generated()).unwrap();
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
