use std::time::{Duration, Instant};

use reqwest::StatusCode;
use secrecy::SecretString;

use crate::helpers::{PASSWORD, assert_error, free_port, spawn_app, spawn_app_with, unique_email};

#[tokio::test]
async fn mongodb_unreachable_is_503_within_3s_while_sessions_keep_working() {
    let app = spawn_app().await;
    let (_, _, token) = app.user_with_session().await;
    // A second instance sharing Redis and the key prefix, whose MongoDB is gone.
    let prefix = app.prefix.clone();
    let down = spawn_app_with(|s| {
        s.mongodb.uri = SecretString::from(format!(
            "mongodb://127.0.0.1:{}/?directConnection=true",
            free_port()
        ));
        s.mongodb.timeout_ms = 1000;
        s.session.key_prefix = prefix;
    })
    .await;
    let started = Instant::now();
    let res = down.log_in(&unique_email(), PASSWORD).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    let started = Instant::now();
    let res = down.sign_up(&unique_email(), PASSWORD).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;

    let auth = format!("Bearer {token}");
    assert_eq!(down.get_session(Some(&auth)).await.status(), StatusCode::OK);
    assert_eq!(down.log_out(&auth).await.status(), StatusCode::NO_CONTENT);

    let res = down
        .client
        .get(down.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["redis"], "up");
    assert_eq!(body["mongodb"], "down");
    assert_eq!(
        down.client
            .get(down.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn redis_unreachable_is_503_on_login_and_session() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let (_, _, token) = app.user_with_session().await;
    let db = app.settings.mongodb.database.clone();
    let down = spawn_app_with(|s| {
        s.redis.url = SecretString::from(format!("redis://127.0.0.1:{}", free_port()));
        s.mongodb.database = db;
    })
    .await;
    let started = Instant::now();
    assert_error(
        down.log_in(&email, PASSWORD).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert_error(
        down.get_session(Some(&format!("Bearer {token}"))).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let res = down
        .client
        .get(down.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["redis"], "down");
    assert_eq!(body["mongodb"], "up");
}

#[tokio::test]
async fn ready_is_200_when_both_answer() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["redis"], "up");
    assert_eq!(body["mongodb"], "up");
}
