//! Configuration typos stop a service at start; a key of the other service does not.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{ChildGuard, TempDir, binary, free_port};

/// Runs `name` with `envs` for at most 10 s: `Some(stderr)` when it exited non-zero
/// by itself, `None` when it was still serving (then it is killed).
async fn refused_at_start(name: &str, envs: &[(&str, &str)]) -> Option<String> {
    let dir = TempDir::new("config");
    let log_path = dir.path().join("stderr.log");
    let port = free_port();
    let mut process = ChildGuard::spawn(
        Command::new(binary(name))
            .env_clear()
            .env("APP__SERVER__PORT", port.to_string())
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap()),
    );
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if let Some(status) = process.exited() {
            assert!(!status.success(), "{name} exited 0 on a refused setting");
            return Some(std::fs::read_to_string(&log_path).unwrap());
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} neither served nor exited within 10 s");
}

#[tokio::test]
async fn a_misspelt_key_stops_either_service_and_names_the_nearest_key() {
    for name in ["resource-service", "auth-service"] {
        let log = refused_at_start(name, &[("APP__SESSION__TTL_SECOND", "60")])
            .await
            .unwrap_or_else(|| panic!("{name} started with a misspelt key"));
        assert!(
            log.contains("session.ttl_second") && log.contains("session.ttl_seconds"),
            "{name} names the key and the nearest known one: {log}"
        );
    }
}

#[tokio::test]
async fn a_key_only_the_other_service_reads_is_accepted() {
    let log = refused_at_start(
        "resource-service",
        &[
            ("APP__MONGODB__URI", "mongodb://127.0.0.1:1"),
            ("APP__PASSWORD__BCRYPT_COST", "10"),
        ],
    )
    .await;
    assert!(
        log.is_none(),
        "refused a key the auth-service reads: {log:?}"
    );
}

#[tokio::test]
async fn a_config_file_with_an_unknown_key_is_refused() {
    let dir = TempDir::new("config-file");
    let file = dir.path().join("resource.toml");
    std::fs::write(
        &file,
        "[validation]\nmode = \"redis\"\ncache_max_entrys = 5\n",
    )
    .unwrap();
    let log = refused_at_start(
        "resource-service",
        &[("APP_CONFIG_FILE", file.to_str().unwrap())],
    )
    .await
    .expect("refused");
    assert!(
        log.contains("validation.cache_max_entrys") && log.contains("validation.cache_max_entries"),
        "{log}"
    );
}
