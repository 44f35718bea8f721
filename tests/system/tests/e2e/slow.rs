//! Slow clients: a flood of connections that trickle their bodies is cut at the
//! request deadline, and health checks are answered throughout, even when the
//! process's file limit is lower than the flood.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{ChildGuard, TempDir, binary, env, free_port, wait_port};

const FLOOD: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_body_flood_is_cut_and_health_answers_throughout() {
    let dir = TempDir::new("slow");
    let port = free_port();
    let id = uuid::Uuid::new_v4().simple().to_string();
    // A file limit well below the flood, as on a small container.
    let _service = ChildGuard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 512 && exec \"$0\"")
            .arg(binary("auth-service"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .env("APP__SERVER__PORT", port.to_string())
            .env("APP__SERVER__WORKERS", "2")
            .env("APP__SERVER__REQUEST_TIMEOUT_MS", "1500")
            .env("APP__REDIS__URL", env("TEST_REDIS_URL"))
            .env("APP__MONGODB__URI", env("TEST_MONGODB_URI"))
            .env("APP__MONGODB__DATABASE", format!("slow_{}", &id[..16]))
            .env("APP__SESSION__KEY_PREFIX", format!("slow:{id}:"))
            .env("APP__PASSWORD__BCRYPT_COST", "4")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("auth.log")).unwrap()),
    );
    wait_port(port, Duration::from_secs(15)).await;

    // Each connection sends a login head announcing 16 KiB, then one byte, then waits.
    let head = "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 16384\r\n\r\n{".to_owned();
    let mut flood = Vec::new();
    for _ in 0..FLOOD {
        let head = head.clone();
        flood.push(tokio::spawn(async move {
            let started = Instant::now();
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()?;
            stream.write_all(head.as_bytes()).await.ok()?;
            // Read until the server closes the connection (with or without a 408).
            let mut answer = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
                .await
                .ok()?;
            Some((
                started.elapsed(),
                String::from_utf8_lossy(&answer).into_owned(),
            ))
        }));
    }

    // Health checks on fresh connections while the flood lasts.
    let client = crate::helpers::client_builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut slowest = Duration::ZERO;
    let checking = Instant::now();
    while checking.elapsed() < Duration::from_secs(6) {
        let started = Instant::now();
        let res = client
            .get(format!("http://127.0.0.1:{port}/health/live"))
            .send()
            .await
            .expect("the health check is answered during the flood");
        assert_eq!(res.status(), StatusCode::OK);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("slowest health check during the flood: {slowest:?}");
    // At worst a health check queues behind the flood's connections for the slots the
    // deadline frees (the flood is about three times the slots: three deadlines).
    assert!(
        slowest < Duration::from_secs(6),
        "health waited {slowest:?}"
    );

    let mut cut = 0;
    let mut timed_out_answers = 0;
    for task in flood {
        let (lasted, answer) = task.await.unwrap().expect("every slow connection was cut");
        assert!(
            lasted < Duration::from_secs(25),
            "a slow connection lasted {lasted:?}"
        );
        cut += 1;
        if answer.starts_with("HTTP/1.1 408") {
            assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
            timed_out_answers += 1;
        }
    }
    assert_eq!(cut, FLOOD);
    assert!(timed_out_answers > 0, "no slow body got the contract's 408");
}
