use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn logout_removes_the_key_and_the_old_token_is_refused() {
    let mut app = spawn_app().await;
    let (_, user_id, token) = app.user_with_session().await;
    let auth = format!("Bearer {token}");
    let res = app.log_out(&auth).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.redis_get(&app.key(&user_id)).await, None);
    assert_error(
        app.get_session(Some(&auth)).await,
        StatusCode::UNAUTHORIZED,
        "session_not_found",
    )
    .await;
    assert_error(
        app.log_out(&auth).await,
        StatusCode::UNAUTHORIZED,
        "session_not_found",
    )
    .await;
}

#[tokio::test]
async fn a_stale_token_cannot_log_out_the_newer_session() {
    let mut app = spawn_app().await;
    let (email, user_id, old) = app.user_with_session().await;
    assert_eq!(
        app.log_out(&format!("Bearer {old}")).await.status(),
        StatusCode::NO_CONTENT
    );
    let res = app.log_in(&email, crate::helpers::PASSWORD).await;
    let body: serde_json::Value = res.json().await.unwrap();
    let newer = body["token"].as_str().unwrap().to_owned();
    assert_ne!(newer, old);
    assert_error(
        app.log_out(&format!("Bearer {old}")).await,
        StatusCode::UNAUTHORIZED,
        "session_revoked",
    )
    .await;
    assert_eq!(app.redis_get(&app.key(&user_id)).await, Some(newer));
}

#[tokio::test]
async fn session_without_or_with_a_broken_credential_is_refused() {
    let app = spawn_app().await;
    assert_error(
        app.get_session(None).await,
        StatusCode::UNAUTHORIZED,
        "missing_authorization",
    )
    .await;
    assert_error(
        app.get_session(Some("Bearer")).await,
        StatusCode::UNAUTHORIZED,
        "missing_user_id",
    )
    .await;
    assert_error(
        app.get_session(Some("Bearer abc.def.ghi")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let (_, user_id, _) = app.user_with_session().await;
    // Seed mode is off by default: a bare userId is no credential.
    assert_error(
        app.get_session(Some(&user_id)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn seed_mode_reads_a_session_by_user_id_but_never_ends_one_by_it() {
    let mut app = spawn_app_with(|s| s.session.accept_user_id_header = true).await;
    let (email, user_id, token) = app.user_with_session().await;
    let res = app.get_session(Some(&user_id)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["email"], email);
    // Knowing (or guessing) a userId must not sign its owner out.
    for credential in [user_id.clone(), format!("Basic {user_id}")] {
        assert_error(
            app.log_out(&credential).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }
    assert_eq!(app.redis_get(&app.key(&user_id)).await, Some(token.clone()));
    assert_eq!(
        app.log_out(&format!("Bearer {token}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.redis_get(&app.key(&user_id)).await, None);
}

#[tokio::test]
async fn an_expired_session_is_refused_and_its_key_is_gone() {
    let mut app = spawn_app_with(|s| s.session.ttl_seconds = 2).await;
    let (_, user_id, token) = app.user_with_session().await;
    let auth = format!("Bearer {token}");
    assert_eq!(app.get_session(Some(&auth)).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let res = app.get_session(Some(&auth)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["error"] == "session_expired" || body["error"] == "session_not_found",
        "{body}"
    );
    assert_eq!(app.redis_get(&app.key(&user_id)).await, None);
}
