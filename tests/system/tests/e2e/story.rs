use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Options, assert_error, stack, unique_email};

/// Sign-up, login, /me, login again (same token), logout, /me refused.
async fn seed_story(mode: &'static str) {
    let s = stack(Options {
        mode,
        ..Options::default()
    })
    .await;
    let email = unique_email();
    let user = s.sign_up(&email).await;
    let login = s.log_in(&email).await;
    assert_eq!(login["reused"], false);
    let token = login["token"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {token}");

    let res = s.me(Some(&auth)).await;
    assert_eq!(res.status(), StatusCode::OK, "mode {mode}");
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["email"], email);
    assert_eq!(me["userId"], user["userId"]);
    assert_eq!(me["expiresAt"], login["expiresAt"]);

    let again = s.log_in(&email).await;
    assert_eq!(again["token"], login["token"]);
    assert_eq!(again["reused"], true);

    assert_eq!(s.log_out(&auth).await.status(), StatusCode::NO_CONTENT);
    assert_error(
        s.me(Some(&auth)).await,
        StatusCode::UNAUTHORIZED,
        "session_not_found",
    )
    .await;
}

#[tokio::test]
async fn the_seed_story_in_redis_mode() {
    seed_story("redis").await;
}

#[tokio::test]
async fn the_seed_story_in_remote_mode() {
    seed_story("remote").await;
}

#[tokio::test]
async fn a_session_expires_across_services() {
    let s = stack(Options {
        ttl: 2,
        ..Options::default()
    })
    .await;
    let email = unique_email();
    s.sign_up(&email).await;
    let token = s.log_in(&email).await["token"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {token}");
    assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let res = s.me(Some(&auth)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"] == "session_expired" || body["error"] == "session_not_found",
        "{body}"
    );
}
