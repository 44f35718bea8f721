//! Races between logins, logouts and sign-ups, through the real binaries.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, Stack, stack, unique_email};

#[tokio::test]
async fn a_hundred_concurrent_logins_yield_one_token() {
    let s = stack(Options::default()).await;
    a_hundred_racing_logins_make_one_session(&s).await;
}

/// 100 concurrent logins of one new user: all 200, one token, one of them created it.
pub async fn a_hundred_racing_logins_make_one_session(s: &Stack) {
    let email = unique_email();
    s.sign_up(&email).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (client, url, email) = (s.client.clone(), s.auth.url("/login"), email.clone());
        tasks.spawn(async move {
            let res = client
                .post(url)
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<Value>().await.unwrap()
        });
    }
    let mut tokens = HashSet::new();
    let mut created = 0;
    while let Some(body) = tasks.join_next().await {
        let body = body.unwrap();
        created += usize::from(body["reused"] == false);
        tokens.insert(body["token"].as_str().unwrap().to_owned());
    }
    assert_eq!(tokens.len(), 1);
    assert_eq!(created, 1);
}

#[tokio::test]
async fn logout_racing_login_leaves_a_consistent_state() {
    let s = stack(Options::default()).await;
    let email = unique_email();
    s.sign_up(&email).await;
    let mut held: Vec<String> = Vec::new();
    for _ in 0..15 {
        let current = s.log_in(&email).await["token"].as_str().unwrap().to_owned();
        held.push(current.clone());
        let login = s
            .client
            .post(s.auth.url("/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send();
        let bearer = format!("Bearer {current}");
        let logout = s.log_out(&bearer);
        let (login, logout) = tokio::join!(login, logout);
        let login = login.unwrap();
        assert_eq!(login.status(), StatusCode::OK);
        assert!(matches!(
            logout.status(),
            StatusCode::NO_CONTENT | StatusCode::UNAUTHORIZED
        ));
        held.push(
            login.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Every token a client holds either works and is the one in Redis, or is refused.
    let mut working = HashSet::new();
    for token in &held {
        let res = s.me(Some(&format!("Bearer {token}"))).await;
        match res.status() {
            StatusCode::OK => {
                working.insert(token.clone());
            }
            StatusCode::UNAUTHORIZED => {
                let body: Value = res.json().await.unwrap();
                assert!(
                    body["error"] == "session_not_found" || body["error"] == "session_revoked",
                    "{body}"
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        working.len() <= 1,
        "at most one live token per user, got {}",
        working.len()
    );
    // And the state is usable: a login now gives a working session.
    let token = s.log_in(&email).await["token"].as_str().unwrap().to_owned();
    assert_eq!(
        s.me(Some(&format!("Bearer {token}"))).await.status(),
        StatusCode::OK
    );
    if let Some(live) = working.iter().next() {
        assert_eq!(live, &token, "the live token is the one login returns");
    }
}

#[tokio::test]
async fn concurrent_sign_ups_for_one_email_give_one_user() {
    let s = stack(Options::default()).await;
    let email = unique_email();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (client, url) = (s.client.clone(), s.auth.url("/signup"));
        let email = if i % 2 == 0 {
            email.clone()
        } else {
            email.to_uppercase()
        };
        tasks.spawn(async move {
            client
                .post(url)
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    let mut created = 0;
    while let Some(status) = tasks.join_next().await {
        match status.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(s.log_in(&email).await["reused"], false);
}
