use reqwest::StatusCode;

use crate::helpers::{PASSWORD, assert_error, spawn_app, spawn_app_with, unique_email};

#[tokio::test]
async fn the_sixth_failure_is_429_for_known_and_unknown_emails() {
    let app = spawn_app().await;
    let known = unique_email();
    app.sign_up(&known, PASSWORD).await;
    for email in [known.clone(), unique_email()] {
        for _ in 0..5 {
            assert_error(
                app.log_in(&email, "wrong password").await,
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
            )
            .await;
        }
        let res = app.log_in(&email, "wrong password").await;
        let retry: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    }
    // While throttled, even the right password gets 429.
    assert_error(
        app.log_in(&known, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    )
    .await;
}

#[tokio::test]
async fn the_right_password_passes_after_the_window() {
    let app = spawn_app_with(|s| s.login.failure_window_seconds = 2).await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    for _ in 0..6 {
        app.log_in(&email, "wrong password").await;
    }
    assert_eq!(
        app.log_in(&email, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(app.log_in(&email, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_success_clears_the_email_count() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    for _ in 0..4 {
        app.log_in(&email, "wrong password").await;
    }
    assert_eq!(app.log_in(&email, PASSWORD).await.status(), StatusCode::OK);
    for _ in 0..5 {
        assert_eq!(
            app.log_in(&email, "wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn one_ip_is_limited_across_emails() {
    let app = spawn_app_with(|s| s.login.max_failures_per_ip_per_minute = 3).await;
    for _ in 0..3 {
        assert_eq!(
            app.log_in(&unique_email(), "wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_error(
        app.log_in(&unique_email(), "wrong password").await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    )
    .await;
}
