use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, assert_error, spawn_app, spawn_app_with, unique_email};

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

/// Sends `n` logins for `email` with `password` at once; the statuses.
async fn burst(app: &TestApp, email: &str, password: &str, n: usize) -> Vec<StatusCode> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (client, url) = (app.client.clone(), app.url("/login"));
        let body = serde_json::json!({"email": email, "password": password});
        tasks.spawn(async move { client.post(url).json(&body).send().await.unwrap().status() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }
    statuses
}

async fn throttle_keys(app: &mut TestApp) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(format!("{}throttle:*", app.prefix))
        .query_async(&mut app.redis)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_parallel_guesses_get_at_most_five_checked() {
    // A bcrypt cost that makes each check take a while, so the guesses overlap.
    let app = spawn_app_with(|s| s.password.bcrypt_cost = 8).await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let statuses = burst(&app, &email, "wrong password", 40).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(checked <= 5, "{checked} guesses were checked");
    assert_eq!(checked + throttled, 40, "{statuses:?}");
    // The right password is throttled too until the window passes.
    assert_eq!(
        app.log_in(&email, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_with_the_right_password_all_passes() {
    let app = spawn_app_with(|s| s.password.bcrypt_cost = 6).await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let statuses = burst(&app, &email, PASSWORD, 30).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_window_rolling_over_mid_login_leaves_no_negative_count() {
    let mut app = spawn_app_with(|s| {
        s.login.max_failures_per_ip_per_minute = 3;
        s.password.bcrypt_cost = 10;
    })
    .await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    // Three logins hold the address's three slots while the window's counter vanishes,
    // as it does when the minute rolls over; then they succeed and give slots back.
    let logins = {
        let (client, url) = (app.client.clone(), app.url("/login"));
        let body = serde_json::json!({"email": email, "password": PASSWORD});
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            let sent: Vec<_> = (0..3)
                .map(|_| client.post(&url).json(&body).send())
                .collect();
            for res in futures_util::future::join_all(sent).await {
                statuses.push(res.unwrap().status());
            }
            statuses
        })
    };
    let started = std::time::Instant::now();
    loop {
        let keys = throttle_keys(&mut app).await;
        let ip_keys: Vec<&String> = keys.iter().filter(|k| k.contains(":ip:")).collect();
        if !ip_keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&ip_keys)
                .query_async(&mut app.redis)
                .await
                .unwrap();
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    assert_eq!(logins.await.unwrap(), vec![StatusCode::OK; 3]);
    for key in throttle_keys(&mut app).await {
        if let Some(value) = app.redis_get(&key).await.filter(|_| key.contains(":ip:")) {
            let n: i64 = value.parse().unwrap();
            assert!(n >= 0, "{key} = {n}");
        }
    }
    // The limit holds exactly: three failures from the address, then 429, for anyone.
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

#[tokio::test]
async fn a_long_email_makes_a_short_key() {
    let mut app = spawn_app().await;
    let long = format!("{}@example.com", "a".repeat(16 * 1024));
    app.log_in(&long, "wrong password").await;
    let valid = unique_email();
    app.log_in(&valid, "wrong password").await;
    let keys = throttle_keys(&mut app).await;
    assert!(!keys.is_empty());
    for key in &keys {
        assert!(key.len() < app.prefix.len() + 80, "{key}");
        assert!(!key.contains("aaaa") && !key.contains(&valid), "{key}");
    }
}

#[tokio::test]
async fn sign_ups_are_limited_per_address() {
    let app = spawn_app_with(|s| s.signup.max_per_ip_per_hour = 3).await;
    for _ in 0..3 {
        assert_eq!(
            app.sign_up(&unique_email(), PASSWORD).await.status(),
            StatusCode::CREATED
        );
    }
    let res = app.sign_up(&unique_email(), PASSWORD).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
}

#[tokio::test]
async fn sign_ups_are_limited_for_the_whole_service() {
    let app = spawn_app_with(|s| s.signup.max_per_minute = 2).await;
    for _ in 0..2 {
        assert_eq!(
            app.sign_up(&unique_email(), PASSWORD).await.status(),
            StatusCode::CREATED
        );
    }
    assert_error(
        app.sign_up(&unique_email(), PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_up_flood_gets_503_at_once_and_logins_still_pass() {
    let app = spawn_app_with(|s| {
        s.password.bcrypt_cost = 12;
        s.password.max_queue = 4;
    })
    .await;
    let email = unique_email();
    // One user made before the flood (at the slow cost: a few hundred ms).
    assert_eq!(
        app.sign_up(&email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let (client, url) = (app.client.clone(), app.url("/signup"));
        let body = serde_json::json!({"email": unique_email(), "password": PASSWORD});
        flood.spawn(async move {
            let started = std::time::Instant::now();
            let res = client.post(url).json(&body).send().await.unwrap();
            (
                res.status(),
                started.elapsed(),
                res.headers().contains_key("retry-after"),
            )
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let login = app.log_in(&email, PASSWORD).await;
    let login_took = started.elapsed();
    assert_eq!(login.status(), StatusCode::OK);
    let mut refused = 0;
    while let Some(done) = flood.join_next().await {
        let (status, took, retry_after) = done.unwrap();
        match status {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                refused += 1;
                assert!(retry_after);
                assert!(
                    took < std::time::Duration::from_millis(500),
                    "503 took {took:?}"
                );
            }
            other => panic!("a sign-up answered {other}"),
        }
    }
    assert!(refused > 0, "the queue bound never refused a sign-up");
    // Sign-ups may fill half the queue (2 jobs); the login waits for at most those
    // and the jobs running: far less than the flood's 30 hashes.
    eprintln!("login during the flood took {login_took:?}");
    assert!(
        login_took < std::time::Duration::from_secs(3),
        "login waited {login_took:?} behind the flood"
    );
}
