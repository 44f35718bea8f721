//! Graceful shutdown: SIGTERM lets in-flight requests finish, then the process exits.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Options, PASSWORD, stack, unique_email};

#[tokio::test]
async fn sigterm_lets_in_flight_logins_finish_and_exits_in_time() {
    let mut s = stack(Options {
        extra: vec![
            ("APP__PASSWORD__BCRYPT_COST".into(), "10".into()),
            ("APP__SERVER__SHUTDOWN_TIMEOUT_SECONDS".into(), "30".into()),
        ],
        ..Options::default()
    })
    .await;
    let email = unique_email();
    s.sign_up(&email).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (client, url, email) = (s.client.clone(), s.auth.url("/login"), email.clone());
        tasks.spawn(async move {
            client
                .post(url)
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
        });
    }
    // Let the requests reach the server (16 bcrypt verifies at cost 10 keep it busy for
    // a while), then stop it.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (took, status) = s.auth.terminate();
    assert!(status.success(), "clean exit, got {status}");
    assert!(took < Duration::from_secs(30), "exited after {took:?}");
    let mut finished = 0;
    while let Some(joined) = tasks.join_next().await {
        let res = joined
            .unwrap()
            .expect("an in-flight request is answered, not reset");
        assert_eq!(res.status(), StatusCode::OK);
        finished += 1;
    }
    assert_eq!(finished, 16);
    assert!(s.auth.log_text().contains("auth-service stopped"));
}
