//! Bad days: Redis stopped, paused or restarted; MongoDB stopped; services restarted.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{Options, OwnMongo, OwnRedis, PASSWORD, assert_error, stack, unique_email};

/// Polls `check` until it is true or `limit` passes; returns how long it took.
async fn within(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn redis_stops_then_restarts_with_aof_and_every_session_survives() {
    let mut redis = OwnRedis::start(&["--appendonly", "yes", "--appendfsync", "always"]).await;
    let s = stack(Options {
        redis_url: Some(redis.url()),
        extra: vec![("APP__REDIS__TIMEOUT_MS".into(), "500".into())],
        ..Options::default()
    })
    .await;
    let (email, auth) = s.session().await;
    assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);

    redis.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let res = s.me(Some(&auth)).await;
        assert!(
            started.elapsed() < Duration::from_millis(500 + 500),
            "took {:?}",
            started.elapsed()
        );
        assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    }
    let res = s.session_info(&auth).await;
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    let res = s.try_log_in(&email, PASSWORD).await;
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    let ready = s.ready().await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    redis.restart().await;
    let took = within(Duration::from_secs(5), async || {
        s.me(Some(&auth)).await.status() == StatusCode::OK
    })
    .await;
    eprintln!("served again {took:?} after Redis came back");
    let res = s.session_info(&auth).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the session survived the Redis restart (AOF)"
    );
    let again = s.log_in(&email).await;
    assert_eq!(format!("Bearer {}", again["token"].as_str().unwrap()), auth);
    assert_eq!(again["reused"], true);
}

#[tokio::test]
async fn a_paused_redis_times_out_into_503_and_the_pool_recovers() {
    let redis = OwnRedis::start(&[]).await;
    let s = stack(Options {
        redis_url: Some(redis.url()),
        extra: vec![("APP__REDIS__TIMEOUT_MS".into(), "500".into())],
        ..Options::default()
    })
    .await;
    let (_, auth) = s.session().await;
    assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);

    let mut admin = redis.connection().await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(3000)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    let pause_started = Instant::now();
    // Many requests at once while paused: every one a 503 in time, none a hang.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (client, url, auth) = (s.client.clone(), s.resource.url("/me"), auth.clone());
        tasks.spawn(async move {
            let started = Instant::now();
            let res = client
                .get(url)
                .header("Authorization", auth)
                .send()
                .await
                .unwrap();
            (res.status(), started.elapsed())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (status, took) = joined.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            took < Duration::from_millis(500 + 500 + 300),
            "took {took:?}"
        );
    }
    assert!(
        pause_started.elapsed() < Duration::from_secs(3),
        "the checks ran inside the pause"
    );
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(pause_started.elapsed())).await;
    // After the pause, the same pool serves every request: nothing stuck or poisoned.
    within(Duration::from_secs(5), async || {
        s.me(Some(&auth)).await.status() == StatusCode::OK
    })
    .await;
    for _ in 0..50 {
        assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn mongodb_stops_logins_503_sessions_unaffected_then_login_recovers() {
    let mut mongo = OwnMongo::start().await;
    let s = stack(Options {
        mongo_uri: Some(mongo.uri()),
        extra: vec![("APP__MONGODB__TIMEOUT_MS".into(), "1500".into())],
        ..Options::default()
    })
    .await;
    let (email, auth) = s.session().await;

    mongo.stop();
    let started = Instant::now();
    let res = s.try_log_in(&email, PASSWORD).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    let started = Instant::now();
    let res = s
        .client
        .post(s.auth.url("/signup"))
        .json(&serde_json::json!({"email": unique_email(), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;

    assert_eq!(
        s.me(Some(&auth)).await.status(),
        StatusCode::OK,
        "validation does not need MongoDB"
    );
    let res = s.session_info(&auth).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(s.log_out(&auth).await.status(), StatusCode::NO_CONTENT);

    mongo.start_again().await;
    within(Duration::from_secs(15), async || {
        s.client
            .post(s.auth.url("/login"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
}

#[tokio::test]
async fn restarting_both_services_keeps_every_session() {
    let mut s = stack(Options::default()).await;
    let mut tokens = Vec::new();
    for _ in 0..5 {
        let email = unique_email();
        s.sign_up(&email).await;
        tokens.push(format!(
            "Bearer {}",
            s.log_in(&email).await["token"].as_str().unwrap()
        ));
    }
    s.auth.restart().await;
    s.resource.restart().await;
    for auth in &tokens {
        assert_eq!(s.me(Some(auth)).await.status(), StatusCode::OK);
        let res = s.session_info(auth).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
}
