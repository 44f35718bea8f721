//! Coalesced reads (`redis.coalesce_reads`, on by default) against private
//! redis-servers of their own, so the command counts are this test's alone: reads
//! ready together share one pipeline (the `GET`s one `MGET`), a bad key fails only its
//! own read, a Redis that dies under a batch answers `Unavailable` to each read in
//! time, on a Cluster a batch across slots answers every read, and with the setting
//! off each read is its own command, as before.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use secrecy::SecretString;
use session_core::settings::{PerUser, RedisMode};
use session_core::{SessionStore, StoreError};
use test_support::redis::{Cluster, OwnRedis};
use test_support::settings::{redis_settings, session_settings};

use crate::support::{unique_prefix, user_id};

/// A redis-server of the test's own and a store on it under a prefix of its own
/// (`name`'s), `per_user` layout, idle timeout `idle` seconds.
async fn own_store(name: &str, per_user: PerUser, idle: u64) -> (OwnRedis, SessionStore) {
    let server = OwnRedis::start(&[]).await;
    let redis = redis_settings(&server.url(), 500);
    assert!(redis.coalesce_reads, "coalescing is on by default");
    let mut session = session_settings(&unique_prefix(name), 3600);
    session.per_user = per_user;
    session.idle_timeout_seconds = idle;
    let store = SessionStore::new(&redis, &session).expect("store");
    (server, store)
}

/// Writes `seed` (the test's keys), then connects `store` and resets the command
/// counts: what the counts show afterwards is the test's reads alone.
async fn seed_and_count_from_here(server: &OwnRedis, store: &SessionStore, seed: &redis::Pipeline) {
    let () = seed
        .query_async(&mut server.connection().await)
        .await
        .unwrap();
    store.ping().await.expect("ping");
    server.reset_stats().await;
}

#[tokio::test]
async fn reads_ready_together_go_as_one_mget_and_a_wrong_type_key_fails_alone() {
    // An idle timeout: `held` then reads `GET` and `PTTL` as a pair, which follow the
    // MGET in the same pipeline.
    let (server, store) = own_store("coalesce-mget", PerUser::Single, 600).await;
    let users: Vec<String> = (0..5).map(|_| user_id()).collect();
    let (bad, missing) = (user_id(), user_id());
    let mut seed = redis::pipe();
    for user in &users {
        seed.cmd("SET")
            .arg(store.key(user))
            .arg(format!("token-of-{user}"))
            .arg("EX")
            .arg(600)
            .ignore();
    }
    seed.cmd("HSET")
        .arg(store.key(&bad))
        .arg("d")
        .arg("not a token")
        .ignore();
    seed_and_count_from_here(&server, &store, &seed).await;

    let gets = join_all(users.iter().chain([&missing, &bad]).map(|u| store.get(u)));
    let held = join_all([&users[0], &bad].map(|u| store.held(u, "")));
    let (gets, held) = tokio::join!(gets, held);

    for (user, got) in users.iter().zip(&gets) {
        assert_eq!(got, &Ok(Some(format!("token-of-{user}"))), "{user}");
    }
    assert_eq!(gets[users.len()], Ok(None), "a key that does not exist");
    // MGET answers nil for a key of another type (GET alone would refuse it): such a
    // key is no session, and reads as none.
    assert_eq!(
        gets[users.len() + 1],
        Ok(None),
        "a hash where a token belongs"
    );
    let held0 = held[0].clone().expect("the good key's pair answers");
    assert_eq!(
        held0.map(|h| h.secret),
        Some(format!("token-of-{}", users[0]))
    );
    assert_eq!(
        held[1],
        Err(StoreError::Unavailable),
        "GET on a hash: WRONGTYPE, for this read only"
    );
    assert_eq!(
        server.calls("mget").await,
        1,
        "the seven GETs went as one MGET"
    );
    assert_eq!(
        server.calls("get").await,
        2,
        "only the pairs' GETs went alone"
    );
    assert_eq!(server.calls("pttl").await, 2);
}

#[tokio::test]
async fn in_multiple_mode_a_wrong_type_key_fails_its_own_read_only() {
    let (server, store) = own_store("coalesce-multiple", PerUser::Multiple, 0).await;
    let user = user_id();
    let sessions: Vec<String> = (0..4).map(|i| format!("s{i}")).collect();
    let mut seed = redis::pipe();
    for (i, sid) in sessions.iter().enumerate() {
        seed.cmd("HSET")
            .arg(store.session_key(&user, sid))
            .arg("d")
            .arg(format!("digest-{i}"))
            .arg("e")
            .arg(4_000_000_000_i64 + i as i64)
            .ignore();
    }
    seed.cmd("SET")
        .arg(store.session_key(&user, "bad"))
        .arg("a string where a hash belongs")
        .ignore();
    seed_and_count_from_here(&server, &store, &seed).await;

    let ids: Vec<&str> = sessions
        .iter()
        .map(String::as_str)
        .chain(["bad", "gone"])
        .collect();
    let held = join_all(ids.iter().map(|sid| store.held(&user, sid))).await;

    for (i, sid) in sessions.iter().enumerate() {
        let h = held[i].clone().expect(sid).expect(sid);
        assert_eq!(h.secret, format!("digest-{i}"));
        assert_eq!(h.ends_at, Some(4_000_000_000 + i as i64));
    }
    assert_eq!(held[4], Err(StoreError::Unavailable), "HMGET on a string");
    assert_eq!(held[5], Ok(None), "a session that does not exist");
    assert_eq!(server.calls("hmget").await, 6, "each read its own HMGET");
}

#[tokio::test]
async fn redis_killed_mid_batch_answers_unavailable_to_each_read_within_the_timeout() {
    let (mut server, store) = own_store("coalesce-killed", PerUser::Single, 0).await;
    store.ping().await.expect("ping");
    // Redis holds every client's commands, so the batch is on the wire, unanswered,
    // when the server dies.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(10_000)
        .arg("ALL")
        .query_async(&mut server.connection().await)
        .await
        .unwrap();
    let users: Vec<String> = (0..8).map(|_| user_id()).collect();
    let started = Instant::now();
    let batch = {
        let store = store.clone();
        tokio::spawn(async move { join_all(users.iter().map(|u| store.get(u))).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.kill();
    let answers = tokio::time::timeout(Duration::from_secs(5), batch)
        .await
        .expect("no read hangs")
        .expect("no read panics");
    let elapsed = started.elapsed();
    assert_eq!(answers.len(), 8);
    for answer in &answers {
        assert_eq!(answer, &Err(StoreError::Unavailable));
    }
    // Each read is bounded by redis.timeout_ms (500 ms here), the retry included.
    assert!(
        elapsed < Duration::from_millis(1200),
        "answered after {elapsed:?}"
    );
}

#[tokio::test]
async fn a_batch_whose_connection_died_is_sent_again_on_a_fresh_one() {
    let (mut server, store) = own_store("coalesce-restart", PerUser::Single, 0).await;
    store.ping().await.expect("ping");
    server.kill();
    server.start_again().await;
    let user = user_id();
    let _: () = redis::cmd("SET")
        .arg(store.key(&user))
        .arg("token")
        .query_async(&mut server.connection().await)
        .await
        .unwrap();
    let answers = join_all((0..4).map(|_| store.get(&user))).await;
    for answer in answers {
        assert_eq!(answer, Ok(Some("token".to_owned())));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_batch_across_slots_answers_every_read() {
    let servers = Cluster::start(3, 0, Duration::from_secs(1)).await;
    let seeds = servers.seeds();
    let prefix = unique_prefix("coalesce-cluster");
    let mut redis = redis_settings("redis://127.0.0.1:1", 2000);
    redis.mode = RedisMode::Cluster;
    redis.nodes = Some(SecretString::from(seeds.join(",")));
    let store = SessionStore::new(&redis, &session_settings(&prefix, 3600)).expect("store");

    let client = redis::cluster::ClusterClient::new(seeds).unwrap();
    let mut cluster = client.get_async_connection().await.unwrap();
    let users: Vec<String> = (0..60).map(|_| user_id()).collect();
    for user in users.iter().step_by(2) {
        let _: () = redis::cmd("SET")
            .arg(store.key(user))
            .arg(format!("token-of-{user}"))
            .query_async(&mut cluster)
            .await
            .unwrap();
    }
    let slots: std::collections::HashSet<u16> = users
        .iter()
        .map(|u| {
            let key = store.key(u);
            let mut hash = 0u16;
            // CRC16/XMODEM, as Redis Cluster places keys (no hash tags in these keys).
            for byte in key.bytes() {
                hash ^= u16::from(byte) << 8;
                for _ in 0..8 {
                    hash = if hash & 0x8000 != 0 {
                        (hash << 1) ^ 0x1021
                    } else {
                        hash << 1
                    };
                }
            }
            hash % 16384
        })
        .collect();
    assert!(slots.len() > 30, "the keys spread over many slots");
    let started = Instant::now();
    while store.ping().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the cluster answers"
        );
    }
    for node in servers.nodes() {
        node.reset_stats().await;
    }

    let answers = join_all(users.iter().map(|u| store.get(u))).await;

    for (i, (user, answer)) in users.iter().zip(&answers).enumerate() {
        let expected = (i % 2 == 0).then(|| format!("token-of-{user}"));
        assert_eq!(answer, &Ok(expected), "{user}");
    }
    let mut mgets = 0;
    let mut gets = 0;
    for node in servers.nodes() {
        mgets += node.calls("mget").await;
        gets += node.calls("get").await;
    }
    assert_eq!(gets, 0, "every GET went within an MGET");
    assert!(
        (1..=60).contains(&mgets),
        "one MGET per slot of the batch: {mgets}"
    );
}

#[tokio::test]
async fn with_coalescing_off_each_read_is_its_own_get() {
    let server = OwnRedis::start(&[]).await;
    let prefix = unique_prefix("coalesce-off");
    let mut redis = redis_settings(&server.url(), 500);
    redis.coalesce_reads = false;
    let store = SessionStore::new(&redis, &session_settings(&prefix, 3600)).expect("store");
    let user = user_id();
    let mut seed = redis::pipe();
    seed.cmd("SET").arg(store.key(&user)).arg("token").ignore();
    seed_and_count_from_here(&server, &store, &seed).await;

    let answers = join_all((0..5).map(|_| store.get(&user))).await;

    for answer in answers {
        assert_eq!(answer, Ok(Some("token".to_owned())));
    }
    assert_eq!(server.calls("get").await, 5, "today's path: one GET a read");
    assert_eq!(server.calls("mget").await, 0);
}
