//! Two auth-service processes deliver the session events through one consumer group;
//! one is killed (SIGKILL) mid-delivery and the other takes its pending entries over.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Options, Service, TempDir, env, free_port, kv, stack, unique_email};

/// A receiver that takes `delay` to acknowledge each delivery and counts, per
/// `webhook-id`, how often it was delivered.
async fn slow_receiver(delay: Duration) -> (u16, Arc<Mutex<HashMap<String, usize>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let counts = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counts = counts.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
                    let value = |name: &str| {
                        head.lines()
                            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
                            .unwrap_or_default()
                    };
                    let length: usize = value("content-length:").parse().unwrap_or(0);
                    let id = value("webhook-id:");
                    while buffer.len() < head_end + 4 + length {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buffer.drain(..head_end + 4 + length);
                    tokio::time::sleep(delay).await;
                    *counts.lock().unwrap().entry(id).or_insert(0) += 1;
                    if socket
                        .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn a_killed_replicas_pending_deliveries_are_taken_over() {
    let (port, seen) = slow_receiver(Duration::from_millis(150)).await;
    let s = stack(Options {
        extra: vec![
            kv(
                "APP__WEBHOOK__URL",
                &format!("http://127.0.0.1:{port}/hook"),
            ),
            kv(
                "APP__WEBHOOK__SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
            kv("APP__WEBHOOK__CLAIM_IDLE_MS", "1500"),
            kv("APP__WEBHOOK__RETRY_INITIAL_MS", "100"),
        ],
        ..Options::default()
    })
    .await;
    let mut first = s.auth.envs();
    first.retain(|(k, _)| k != "APP__SERVER__PORT");
    let dir = TempDir::new("webhooks");
    let log = dir.path().join("auth2.log");
    let mut second = Service::start("auth-service", free_port(), first, log).await;

    // 30 users sign up and log in: 60 events, delivered 150 ms each by two replicas.
    for _ in 0..30 {
        let email = unique_email();
        s.sign_up(&email).await;
        s.log_in(&email).await;
    }
    // Both replicas hold entries now; one dies without a word.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let delivered_before = seen.lock().unwrap().len();
    assert!(
        delivered_before < 60,
        "deliveries still under way at the kill"
    );
    second.stop();

    // Every event of the stream arrives (the survivor takes the dead one's over).
    let prefix = s
        .auth
        .envs()
        .into_iter()
        .find(|(k, _)| k == "APP__SESSION__KEY_PREFIX")
        .unwrap()
        .1;
    let mut redis = redis::Client::open(env("TEST_REDIS_URL"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{prefix}events"))
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap();
    let ids: HashSet<String> = entries
        .iter()
        .map(|(_, fields)| {
            let data = &fields.iter().find(|(k, _)| k == "data").unwrap().1;
            let event: serde_json::Value = serde_json::from_str(data).unwrap();
            event["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 60);
    let started = Instant::now();
    loop {
        let got: HashSet<String> = seen.lock().unwrap().keys().cloned().collect();
        if ids.is_subset(&got) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "{} of 60 events delivered after the kill",
            ids.intersection(&got).count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Duplicates only for what the dead replica held (a batch at most, and the one
    // in flight).
    let duplicates: usize = seen.lock().unwrap().values().map(|n| n - 1).sum();
    assert!(duplicates <= 17, "{duplicates} duplicate deliveries");
    assert!(
        s.auth.log_text().contains("took over a webhook delivery"),
        "the survivor says it took entries over"
    );
}
