use reqwest::StatusCode;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn oversized_body_is_413_and_broken_json_is_400() {
    let app = spawn_app().await;
    let big = format!(
        r#"{{"email":"a@example.com","password":"{}"}}"#,
        "x".repeat(20 * 1024)
    );
    for path in ["/signup", "/login"] {
        let res = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
        for body in [
            "{",
            "not json",
            r#"{"email":"a@example.com"}"#,
            r#"{"email":1,"password":"12345678"}"#,
            "[]",
            "",
        ] {
            let res = app
                .client
                .post(app.url(path))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
        }
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.client.get(app.url("/login")).send().await.unwrap();
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}
