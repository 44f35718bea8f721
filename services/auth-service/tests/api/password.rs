//! `POST /password`: no session opened with the old password survives the change, also
//! one whose login was running while the password changed, in both layouts; the caller
//! stays signed in through its rotated session (a new token; the old one is refused),
//! as a bearer and as a browser with cookies.

use reqwest::StatusCode;
use serde_json::{Value, json};
use session_core::settings::PerUser;

use crate::helpers::{PASSWORD, TestApp, spawn_app_with, unique_email};

const NEW_PASSWORD: &str = "a brand new password";

async fn app_in(mode: PerUser) -> TestApp {
    spawn_app_with(|s| {
        s.session.per_user = mode;
        // Room for every racing login: none evicts the owner's session.
        s.session.max_per_user = 100;
        s.login.max_failures_per_email = 1000;
    })
    .await
}

async fn token_of(res: reqwest::Response) -> Option<String> {
    (res.status() == StatusCode::OK).then_some(())?;
    let body: Value = res.json().await.ok()?;
    body["token"].as_str().map(str::to_owned)
}

async fn status_of(app: &TestApp, token: &str) -> StatusCode {
    app.get_session(Some(&format!("Bearer {token}")))
        .await
        .status()
}

/// An attacker who knows the old password logs in again and again while the owner
/// changes it; afterwards not one session the attacker got works, and the owner's
/// rotated one does (and is the user's only session).
async fn racing_logins_do_not_survive(mode: PerUser) {
    let app = app_in(mode).await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let owner = token_of(app.log_in(&email, PASSWORD).await).await.unwrap();
    // Before the change, in `single` mode the attacker's login gets the owner's own
    // session (reused): the change must end that too.
    let early = token_of(app.log_in(&email, PASSWORD).await).await.unwrap();

    let mut attackers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url, email) = (app.client.clone(), app.url("/login"), email.clone());
        attackers.spawn(async move {
            let mut got = Vec::new();
            for _ in 0..4 {
                let res = client
                    .post(&url)
                    .json(&json!({"email": email, "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                if let Some(token) = token_of(res).await {
                    got.push(token);
                }
            }
            got
        });
    }
    let res = app
        .client
        .post(app.url("/password"))
        .bearer_auth(&owner)
        .json(&json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rotated: Value = res.json().await.unwrap();
    let rotated = rotated["token"].as_str().unwrap().to_owned();
    let mut stolen = vec![early];
    while let Some(got) = attackers.join_next().await {
        stolen.extend(got.unwrap());
    }
    for token in &stolen {
        assert_eq!(
            status_of(&app, token).await,
            StatusCode::UNAUTHORIZED,
            "{mode:?}: a session opened with the old password survived ({} tried)",
            stolen.len()
        );
    }
    assert_eq!(
        status_of(&app, &owner).await,
        StatusCode::UNAUTHORIZED,
        "old token"
    );
    assert_eq!(
        status_of(&app, &rotated).await,
        StatusCode::OK,
        "rotated token"
    );
    let sessions: Value = app
        .client
        .get(app.url("/sessions"))
        .bearer_auth(&rotated)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        sessions["sessions"].as_array().unwrap().len(),
        1,
        "{sessions}"
    );
    // The old password opens nothing now; the new one does.
    assert_eq!(
        app.log_in(&email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.log_in(&email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn in_single_mode_no_session_opened_with_the_old_password_survives() {
    racing_logins_do_not_survive(PerUser::Single).await;
}

#[tokio::test]
async fn in_multiple_mode_no_session_opened_with_the_old_password_survives() {
    racing_logins_do_not_survive(PerUser::Multiple).await;
}

#[tokio::test]
async fn a_browser_gets_its_rotated_session_as_new_cookies() {
    let app = app_in(PerUser::Multiple).await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let res = app
        .post_json(
            "/login",
            &json!({"email": email, "password": PASSWORD, "cookie": true}),
        )
        .await;
    let cookie = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
    };
    let (session, csrf) = (
        cookie(&res, "__Host-session").unwrap(),
        cookie(&res, "__Host-session-csrf").unwrap(),
    );
    let res = app
        .client
        .post(app.url("/password"))
        .header(
            "Cookie",
            format!("__Host-session={session}; __Host-session-csrf={csrf}"),
        )
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (new_session, new_csrf) = (
        cookie(&res, "__Host-session").expect("a new session cookie"),
        cookie(&res, "__Host-session-csrf").expect("a new CSRF cookie"),
    );
    let body: Value = res.json().await.unwrap();
    assert!(body.get("token").is_none(), "{body}");
    assert_ne!(new_session, session);
    assert_ne!(new_csrf, csrf);
    let me = |session: String| {
        app.client
            .get(app.url("/session"))
            .header("Cookie", format!("__Host-session={session}"))
            .send()
    };
    assert_eq!(
        me(session).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me(new_session).await.unwrap().status(), StatusCode::OK);
}
