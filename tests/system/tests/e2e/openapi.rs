//! The OpenAPI document: generated from the code, equal to the committed copy, valid
//! OpenAPI 3.1, naming every route the service mounts, served while Redis is down.

use reqwest::StatusCode;
use resource_service::routes::{ROUTES, openapi::document};
use serde_json::Value;
use service_kit::openapi::{OpenApiDocument, operations};

use crate::helpers::{Options, Service, TempDir, client_builder, free_port, stack};

const REGENERATE: &str =
    "UPDATE_OPENAPI=1 cargo test -p system --test e2e openapi_document_matches_the_committed_copy";

fn generated() -> OpenApiDocument {
    OpenApiDocument::new(&document()).expect("the document serialises")
}

#[test]
fn openapi_document_matches_the_committed_copy() {
    test_support::openapi::assert_committed("resource-service", &generated(), REGENERATE);
}

#[test]
fn openapi_document_is_openapi_3_1_and_names_every_mounted_route() {
    test_support::openapi::assert_names_routes(&generated(), ROUTES);
}

#[tokio::test]
async fn openapi_json_answers_while_redis_is_down() {
    let dir = TempDir::new("openapi");
    let closed = free_port();
    let service = Service::start(
        "resource-service",
        free_port(),
        vec![
            (
                "APP__REDIS__URL".to_owned(),
                format!("redis://127.0.0.1:{closed}"),
            ),
            ("APP__REDIS__TIMEOUT_MS".to_owned(), "300".to_owned()),
        ],
        dir.path().join("resource.log"),
    )
    .await;
    let client = client_builder().build().unwrap();
    // Redis really is down for this instance.
    let ready = client
        .get(service.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    let started = std::time::Instant::now();
    let res = client
        .get(service.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_millis(300));
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    // The binary serves what the code generates (and so the committed copy).
    assert_eq!(res.bytes().await.unwrap().as_ref(), generated().bytes());
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let s = stack(Options::default()).await;
    let document: Value = serde_json::from_slice(generated().bytes()).unwrap();
    for (method, path) in operations(&document) {
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let res = s
            .client
            .request(method.clone(), s.resource.url(&path))
            .send()
            .await
            .unwrap();
        assert!(
            !matches!(
                res.status(),
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "{method} {path}: {}",
            res.status()
        );
    }
}
