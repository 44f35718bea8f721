//! `redis.wait_replicas`: a change the replicas did not confirm in time answers `503`
//! (`redis.wait_replicas_strict`, the default): applied on the master, not confirmed,
//! so a failover could lose it; the client retries, and a retried logout answers `401
//! session_not_found`, which it takes as done. With strict off the shortfall is logged
//! and the answer stands.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::signal;
use crate::helpers::{Options, OwnRedis, assert_error, kv, stack};

async fn master_and_replica() -> (OwnRedis, OwnRedis) {
    let master = OwnRedis::start(&[]).await;
    let port = master.port().to_string();
    let replica = OwnRedis::start(&["--replicaof", "127.0.0.1", &port]).await;
    let mut conn = master.connection().await;
    for _ in 0..100 {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut conn)
            .await
            .unwrap();
        if info.contains("connected_slaves:1") && info.contains("state=online") {
            return (master, replica);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the replica did not come online");
}

async fn logout_with_the_replica_paused(strict: bool) -> (StatusCode, StatusCode, StatusCode) {
    let (master, replica) = master_and_replica().await;
    let s = stack(Options {
        redis_url: Some(master.url()),
        extra: vec![
            kv("APP__REDIS__WAIT_REPLICAS", "1"),
            kv("APP__REDIS__WAIT_REPLICAS_STRICT", &strict.to_string()),
            kv("APP__REDIS__TIMEOUT_MS", "800"),
        ],
        ..Options::default()
    })
    .await;
    // The replica is up: the login is confirmed.
    let (_, auth) = s.session().await;
    assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);
    let pid = replica.pid();
    signal(pid, "STOP");
    let logout = s.log_out(&auth).await.status();
    let me = s.me(Some(&auth)).await.status();
    let again = s.log_out(&auth).await.status();
    signal(pid, "CONT");
    (logout, me, again)
}

#[tokio::test]
async fn a_logout_the_replica_did_not_confirm_is_503_applied_and_a_retry_is_401() {
    let (logout, me, again) = logout_with_the_replica_paused(true).await;
    assert_eq!(
        logout,
        StatusCode::SERVICE_UNAVAILABLE,
        "unconfirmed logout"
    );
    assert_eq!(
        me,
        StatusCode::UNAUTHORIZED,
        "the logout was applied on the master"
    );
    assert_eq!(again, StatusCode::UNAUTHORIZED, "a retried logout");
}

#[tokio::test]
async fn with_strict_off_an_unconfirmed_logout_answers_204() {
    let (logout, me, again) = logout_with_the_replica_paused(false).await;
    assert_eq!(logout, StatusCode::NO_CONTENT);
    assert_eq!(me, StatusCode::UNAUTHORIZED);
    assert_eq!(again, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unconfirmed_logout_answers_with_the_contract_body() {
    let (master, replica) = master_and_replica().await;
    let s = stack(Options {
        redis_url: Some(master.url()),
        extra: vec![
            kv("APP__REDIS__WAIT_REPLICAS", "1"),
            kv("APP__REDIS__TIMEOUT_MS", "800"),
        ],
        ..Options::default()
    })
    .await;
    let (_, auth) = s.session().await;
    let pid = replica.pid();
    signal(pid, "STOP");
    let res = s.log_out(&auth).await;
    signal(pid, "CONT");
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
}
