//! `GET /verify` with its validation cache: the instance that ends a session drops
//! its own cache entry before it answers, so a `/verify` right after the `204` of a
//! logout (or any other end) is refused, every time. Other instances hear of it on the
//! invalidation channel within milliseconds (docs/security.md gives the bound).

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app_with};

async fn verify(app: &TestApp, auth: &str) -> StatusCode {
    app.client
        .get(app.url("/verify"))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_verify_right_after_logout_is_refused_every_time() {
    let app = spawn_app_with(|s| s.validation.cache = true).await;
    // The cache serves once it hears its channel (this instance's own beat, five
    // times a second).
    tokio::time::sleep(Duration::from_millis(800)).await;
    for round in 0..40 {
        let (_, _, token) = app.user_with_session().await;
        let auth = format!("Bearer {token}");
        // Into the cache, and served from it.
        assert_eq!(verify(&app, &auth).await, StatusCode::OK);
        assert_eq!(verify(&app, &auth).await, StatusCode::OK);
        assert_eq!(app.log_out(&auth).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            verify(&app, &auth).await,
            StatusCode::UNAUTHORIZED,
            "round {round}"
        );
    }
    // Ending every session (logout/all) is dropped at once too.
    let (_, _, token) = app.user_with_session().await;
    let auth = format!("Bearer {token}");
    assert_eq!(verify(&app, &auth).await, StatusCode::OK);
    let res = app
        .client
        .post(app.url("/logout/all"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(verify(&app, &auth).await, StatusCode::UNAUTHORIZED);
}
