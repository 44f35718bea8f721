//! `server.trusted_proxies`: behind a trusted proxy each client has its own login
//! budget and its own IP in `/sessions`; without one (or from an untrusted peer) the
//! socket's peer is the client, whatever `X-Forwarded-For` says. Clients here are on
//! several loopback addresses (127.0.0.2, 127.0.0.3, ...).

use std::net::IpAddr;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestApp, assert_error, client_builder, spawn_app_with, unique_email,
};

/// A client whose connections come from `from` (a loopback address).
fn client_from(from: &str) -> reqwest::Client {
    client_builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn failed_login(app: &TestApp, from: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = client_from(from)
        .post(app.url("/login"))
        .json(&json!({"email": unique_email(), "password": "wrong password"}));
    if let Some(value) = forwarded_for {
        request = request.header("X-Forwarded-For", value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_login_budget() {
    let app = spawn_app_with(|s| {
        s.login.max_failures_per_ip_per_minute = 2;
        s.server.trusted_proxies = Some("127.0.0.2, 10.0.0.0/8".into());
    })
    .await;
    // The proxy (127.0.0.2) forwards client A twice: A's budget is spent.
    for _ in 0..2 {
        let res = failed_login(&app, "127.0.0.2", Some("203.0.113.10")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = failed_login(&app, "127.0.0.2", Some("203.0.113.10")).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    // Client B through the same proxy is not throttled for A's failures; nor is a
    // client behind a chain of trusted proxies (the right-most untrusted entry counts).
    let res = failed_login(&app, "127.0.0.2", Some("203.0.113.11")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = failed_login(
        &app,
        "127.0.0.2",
        Some("203.0.113.10, 203.0.113.12, 10.1.2.3"),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the client is 203.0.113.12"
    );
    // A client that is no trusted proxy cannot choose its budget with the header: it
    // is its own peer address (127.0.0.3), whatever it claims.
    for _ in 0..2 {
        let res = failed_login(&app, "127.0.0.3", Some("203.0.113.99")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = failed_login(&app, "127.0.0.3", Some("198.51.100.1")).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
}

#[tokio::test]
async fn without_trusted_proxies_clients_on_other_addresses_have_their_own_budgets_and_the_header_is_ignored()
 {
    let app = spawn_app_with(|s| s.login.max_failures_per_ip_per_minute = 2).await;
    for _ in 0..2 {
        assert_eq!(
            failed_login(&app, "127.0.0.4", Some("203.0.113.1"))
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Another header value from the same peer: still the same budget.
    let res = failed_login(&app, "127.0.0.4", Some("203.0.113.2")).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    // Another peer address: a budget of its own.
    assert_eq!(
        failed_login(&app, "127.0.0.5", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_sessions_list_shows_the_forwarded_client() {
    let app = spawn_app_with(|s| s.server.trusted_proxies = Some("127.0.0.0/8".into())).await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let res = client_from("127.0.0.6")
        .post(app.url("/login"))
        .header("X-Forwarded-For", "::ffff:198.51.100.7")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let sessions: Value = app
        .client
        .get(app.url("/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["sessions"][0]["ip"], "198.51.100.7", "{sessions}");
}

#[tokio::test]
async fn a_malformed_trusted_proxies_list_is_refused_at_start_naming_the_key() {
    let mut settings = crate::helpers::test_settings();
    settings.server.trusted_proxies = Some("127.0.0.1, not-a-network".into());
    let err = settings.check(false).unwrap_err();
    assert!(err.to_string().contains("server.trusted_proxies"), "{err}");
    assert!(
        auth_service::startup::Application::build(settings)
            .await
            .is_err()
    );
}
