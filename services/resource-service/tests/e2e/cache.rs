//! The validation cache: served in process, invalidated through Redis pub/sub, dropped
//! when the invalidation channel is lost.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{Options, OwnRedis, assert_error, stack, unique_email};

fn cached(redis: &OwnRedis) -> Options {
    Options {
        redis_url: Some(redis.url()),
        resource_env: vec![
            ("APP__VALIDATION__CACHE".into(), "true".into()),
            ("APP__VALIDATION__CACHE_HEARTBEAT_MS".into(), "300".into()),
            ("APP__REDIS__TIMEOUT_MS".into(), "300".into()),
        ],
        ..Options::default()
    }
}

async fn wait_for_cache(s: &crate::helpers::Stack) {
    let started = Instant::now();
    while !s.resource.log_text().contains("validation cache on") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the cache never subscribed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_cache_serves_without_redis_and_drops_when_the_channel_is_lost() {
    let redis = OwnRedis::start(&[]).await;
    let s = stack(cached(&redis)).await;
    wait_for_cache(&s).await;
    let (_, auth) = s.session().await;
    assert_eq!(
        s.me(Some(&auth)).await.status(),
        StatusCode::OK,
        "warms the cache"
    );

    let mut admin = redis.connection().await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(3000)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    // Served from the cache: no Redis round trip, so the pause does not matter...
    assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);
    // ...until the heartbeat finds the channel dead; then the cache is dropped and
    // the request goes to the paused Redis: 503, never a stale answer.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_error(
        s.me(Some(&auth)).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert!(s.resource.log_text().contains("validation cache off"));
}

#[tokio::test]
async fn logout_and_relogin_take_effect_through_the_cache() {
    let redis = OwnRedis::start(&[]).await;
    let s = stack(cached(&redis)).await;
    wait_for_cache(&s).await;
    let email = unique_email();
    s.sign_up(&email).await;
    for _ in 0..5 {
        let token = s.log_in(&email).await["token"].as_str().unwrap().to_owned();
        let auth = format!("Bearer {token}");
        for _ in 0..3 {
            assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);
        }
        assert_eq!(s.log_out(&auth).await.status(), StatusCode::NO_CONTENT);
        // The invalidation travels over pub/sub: the old token must stop working promptly
        // (make bench measures how promptly; this only bounds it).
        let started = Instant::now();
        loop {
            let status = s.me(Some(&auth)).await.status();
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert_eq!(status, StatusCode::OK);
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "revocation took longer than 2 s"
            );
        }
    }
}

#[tokio::test]
async fn a_killed_subscription_never_leaves_a_stale_session() {
    let redis = OwnRedis::start(&[]).await;
    let s = stack(cached(&redis)).await;
    wait_for_cache(&s).await;
    let (_, auth) = s.session().await;
    assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);
    let mut admin = redis.connection().await;
    // Cut the subscription, then log out while it is down: no message reaches the cache.
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(s.log_out(&auth).await.status(), StatusCode::NO_CONTENT);
    for _ in 0..20 {
        assert_error(
            s.me(Some(&auth)).await,
            StatusCode::UNAUTHORIZED,
            "session_not_found",
        )
        .await;
    }
}
