//! The validation cache: served in process, invalidated through Redis pub/sub, dropped
//! when the invalidation channel is lost.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, OwnRedis, PASSWORD, Service, assert_error, stack, unique_email};

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

const ADMIN_TOKEN: &str = "e2e-admin-token-that-is-32-bytes-long-0123";
const NEW_PASSWORD: &str = "a new and longer passphrase";

/// Multiple mode, two sessions per user at most, the admin endpoints on, both services
/// with `extra`; the resource-service caches.
async fn multiple_cached(redis: &OwnRedis, extra: &[(&str, &str)]) -> crate::helpers::Stack {
    let mut options = cached(redis);
    options.extra = [
        ("APP__SESSION__PER_USER", "multiple"),
        ("APP__SESSION__MAX_PER_USER", "2"),
        ("APP__ADMIN__TOKEN", ADMIN_TOKEN),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let s = stack(options).await;
    wait_for_cache(&s).await;
    s
}

async fn log_in_with(s: &crate::helpers::Stack, email: &str, password: &str) -> Value {
    let res = s
        .client
        .post(s.auth.url("/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

fn bearer(body: &Value) -> String {
    format!("Bearer {}", body["token"].as_str().unwrap())
}

/// `/me` answers 200 for each credential on every instance (and so caches them).
async fn warm(s: &crate::helpers::Stack, others: &[&Service], auths: &[&str]) {
    for auth in auths {
        for _ in 0..2 {
            assert_eq!(s.me(Some(auth)).await.status(), StatusCode::OK);
            for other in others {
                assert_eq!(s.me_at(other, auth).await.status(), StatusCode::OK);
            }
        }
    }
}

/// Every instance refuses `auth` within the logout bound (2 s), and keeps refusing.
async fn refused_everywhere(s: &crate::helpers::Stack, others: &[&Service], auth: &str) {
    let instances: Vec<&Service> = std::iter::once(&s.resource)
        .chain(others.iter().copied())
        .collect();
    for service in instances {
        let started = Instant::now();
        loop {
            let status = s.me_at(service, auth).await.status();
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert_eq!(status, StatusCode::OK);
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{} still let an ended session in after 2 s",
                service.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for _ in 0..3 {
            assert_eq!(
                s.me_at(service, auth).await.status(),
                StatusCode::UNAUTHORIZED
            );
        }
    }
}

async fn post(
    s: &crate::helpers::Stack,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> StatusCode {
    let mut req = s
        .client
        .post(s.auth.url(path))
        .header("Authorization", auth);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap().status()
}

#[tokio::test]
async fn every_way_a_device_session_ends_reaches_every_cache() {
    let redis = OwnRedis::start(&[]).await;
    let s = multiple_cached(&redis, &[]).await;
    let second = s.another_resource().await;
    let others = [&second];
    let email = unique_email();
    let user_id = s.sign_up(&email).await["userId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Eviction: a third login ends the oldest of two.
    let a = bearer(&s.log_in(&email).await);
    let b = bearer(&s.log_in(&email).await);
    warm(&s, &others, &[&a, &b]).await;
    let c = bearer(&s.log_in(&email).await);
    refused_everywhere(&s, &others, &a).await;
    warm(&s, &others, &[&b, &c]).await;

    // Sign out the others: b ends, c stays.
    assert_eq!(
        post(&s, "/logout/others", &c, None).await,
        StatusCode::NO_CONTENT
    );
    refused_everywhere(&s, &others, &b).await;
    warm(&s, &others, &[&c]).await;

    // Sign out everywhere: c and d end.
    let d = bearer(&s.log_in(&email).await);
    warm(&s, &others, &[&c, &d]).await;
    assert_eq!(
        post(&s, "/logout/all", &d, None).await,
        StatusCode::NO_CONTENT
    );
    refused_everywhere(&s, &others, &c).await;
    refused_everywhere(&s, &others, &d).await;

    // A password change ends the other sessions.
    let e = bearer(&s.log_in(&email).await);
    let f = bearer(&s.log_in(&email).await);
    warm(&s, &others, &[&e, &f]).await;
    let change = json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD});
    assert_eq!(
        post(&s, "/password", &e, Some(change)).await,
        StatusCode::OK
    );
    refused_everywhere(&s, &others, &f).await;
    refused_everywhere(&s, &others, &e).await;

    // An administrator ends them all.
    let g = bearer(&log_in_with(&s, &email, NEW_PASSWORD).await);
    warm(&s, &others, &[&g]).await;
    let res = s
        .client
        .delete(s.auth.url(&format!("/admin/users/{user_id}/sessions")))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    refused_everywhere(&s, &others, &g).await;
}

#[tokio::test]
async fn an_idle_session_is_refused_by_every_cache() {
    let redis = OwnRedis::start(&[]).await;
    let s = multiple_cached(&redis, &[("APP__SESSION__IDLE_TIMEOUT_SECONDS", "2")]).await;
    let second = s.another_resource().await;
    let others = [&second];
    let email = unique_email();
    s.sign_up(&email).await;
    let idle = bearer(&s.log_in(&email).await);
    let used = bearer(&s.log_in(&email).await);
    warm(&s, &others, &[&idle, &used]).await;
    // `used` is refreshed while `idle` is left alone past its deadline.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2600) {
        assert_eq!(
            post(&s, "/session/refresh", &used, None).await,
            StatusCode::OK
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    refused_everywhere(&s, &others, &idle).await;
    warm(&s, &others, &[&used]).await;
}

#[tokio::test]
async fn a_change_behind_the_stores_back_is_seen_within_the_max_age() {
    let redis = OwnRedis::start(&[]).await;
    let mut options = cached(&redis);
    options
        .resource_env
        .push(("APP__VALIDATION__CACHE_MAX_AGE_MS".into(), "1000".into()));
    let s = stack(options).await;
    wait_for_cache(&s).await;
    let (_, auth) = s.session().await;
    for _ in 0..3 {
        assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);
    }
    // An operator empties Redis by hand: no script runs, nothing is announced.
    let mut admin = redis.connection().await;
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let status = s.me(Some(&auth)).await.status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_millis(1000 + 700),
            "the cache served a deleted session past its max age"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    eprintln!("refused {:?} after the FLUSHALL", started.elapsed());
}
