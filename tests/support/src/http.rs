//! The HTTP client of the tests and the contract's error asserts.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

/// A reqwest client builder, with the process's TLS crypto provider installed first
/// (reqwest is built with rustls and no provider of its own).
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// The tests' client: 20 s for any request, so a hung service fails the test.
pub fn client() -> reqwest::Client {
    client_builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Asserts the contract's error answer: `status`, a JSON body with `error` = `code`
/// and a message, `WWW-Authenticate: Bearer realm="session-store"...` on 401 and
/// `Retry-After` on 429 and 503. Returns the body.
pub async fn assert_error(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "expected {code}");
    if status == StatusCode::UNAUTHORIZED {
        let www = res
            .headers()
            .get("www-authenticate")
            .expect("WWW-Authenticate on 401");
        assert!(
            www.to_str()
                .unwrap()
                .starts_with("Bearer realm=\"session-store\"")
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        assert!(
            res.headers().contains_key("retry-after"),
            "Retry-After on {status}"
        );
    }
    let body: Value = res.json().await.expect("a JSON error body");
    assert_eq!(body["error"], code, "body {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body
}
