//! Sessions per device under failure: Redis killed while logins evict, then restarted
//! from its append-only file.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, OwnRedis, PASSWORD, stack, unique_email};

const MAX: usize = 3;

/// The user's index and session keys agree: at most MAX sessions, every indexed id has
/// its hash with a token digest, and no session hash is missing from the index.
async fn assert_consistent(redis: &OwnRedis, user_id: &str) -> BTreeSet<String> {
    let mut conn = redis.connection().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("*{{{user_id}}}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let index = keys
        .iter()
        .find(|k| k.ends_with(":index"))
        .cloned()
        .expect("the user's index survived");
    let indexed: BTreeSet<String> = redis::cmd("ZRANGE")
        .arg(&index)
        .arg(0)
        .arg(-1)
        .query_async::<Vec<String>>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let base = index.trim_end_matches("index");
    let stored: BTreeSet<String> = keys
        .iter()
        .filter(|k| **k != index)
        .map(|k| k.trim_start_matches(base).to_owned())
        .collect();
    assert!(indexed.len() <= MAX, "{} sessions indexed", indexed.len());
    assert_eq!(indexed, stored, "index and session keys disagree");
    for id in &stored {
        let digest: Option<String> = redis::cmd("HGET")
            .arg(format!("{base}{id}"))
            .arg("d")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            digest.map(|d| d.len()),
            Some(64),
            "session {id} is half-written"
        );
    }
    stored
}

#[tokio::test]
async fn redis_killed_amid_evicting_logins_leaves_every_user_consistent() {
    let mut redis = OwnRedis::start(&["--appendonly", "yes", "--appendfsync", "always"]).await;
    let s = stack(Options {
        redis_url: Some(redis.url()),
        extra: vec![
            ("APP__SESSION__PER_USER".into(), "multiple".into()),
            ("APP__SESSION__MAX_PER_USER".into(), MAX.to_string()),
            ("APP__REDIS__TIMEOUT_MS".into(), "300".into()),
        ],
        ..Options::default()
    })
    .await;
    let email = unique_email();
    let user_id = s.sign_up(&email).await["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..MAX {
        s.log_in(&email).await;
    }

    // Logins keep evicting while Redis is killed under them.
    let login = || {
        s.client
            .post(s.auth.url("/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
    };
    let storm = async {
        let mut statuses = Vec::new();
        for _ in 0..15 {
            let wave: Vec<_> = (0..8).map(|_| login()).collect();
            for res in futures_util::future::join_all(wave).await {
                statuses.push(res.unwrap().status());
            }
        }
        statuses
    };
    let crash = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        redis.kill();
    };
    let (statuses, ()) = tokio::join!(storm, crash);
    assert!(
        statuses.contains(&StatusCode::OK),
        "some logins ran before the kill"
    );
    assert!(
        statuses.contains(&StatusCode::SERVICE_UNAVAILABLE),
        "some logins met the dead Redis"
    );
    for status in &statuses {
        assert!(
            [
                StatusCode::OK,
                StatusCode::SERVICE_UNAVAILABLE,
                StatusCode::TOO_MANY_REQUESTS
            ]
            .contains(status),
            "a login answered {status}"
        );
    }

    redis.start_again().await;
    let survivors = assert_consistent(&redis, &user_id).await;
    assert!(!survivors.is_empty());

    // The service picks up where it left off: a login evicts the oldest, the list matches.
    let mut fresh = None;
    for _ in 0..50 {
        let res = login().await.unwrap();
        if res.status() == StatusCode::OK {
            fresh = Some(res.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fresh = fresh.expect("logins work again after the restart");
    let auth = format!("Bearer {}", fresh["token"].as_str().unwrap());
    assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);
    let after = assert_consistent(&redis, &user_id).await;
    assert!(after.contains(fresh["sessionId"].as_str().unwrap()));
    let listed: Value = s
        .client
        .get(s.auth.url("/sessions"))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: BTreeSet<String> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["sessionId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, after);
}
