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

/// Secrets that pass production's checks (64 random-looking hex digits each).
const STRONG_JWT: &str = "9f2c4e7a1b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
const STRONG_INTERNAL: &str = "3e8d1c7b5a49f2e60d4c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928171605f4e3d";

#[tokio::test]
async fn production_is_recognised_in_any_spelling_and_refuses_development_secrets() {
    for env in ["production", "Production", "PRODUCTION", "prod", " Prod "] {
        for name in ["auth-service", "resource-service"] {
            let log = refused_at_start(name, &[("APP_ENV", env)])
                .await
                .unwrap_or_else(|| panic!("{name} started with APP_ENV={env:?} and dev secrets"));
            assert!(log.contains("jwt.secret"), "{name}, {env:?}: {log}");
        }
    }
}

#[tokio::test]
async fn an_unknown_environment_is_refused() {
    let log = refused_at_start("resource-service", &[("APP_ENV", "prdo")])
        .await
        .expect("refused");
    assert!(log.contains("APP_ENV") && log.contains("prdo"), "{log}");
}

#[tokio::test]
async fn production_refuses_guessable_secrets_and_a_low_bcrypt_cost() {
    let dev_plus_space = format!("{} ", session_core_dev_secret());
    let (a32, ab40, abcd8, x40) = (
        "a".repeat(32),
        "ab".repeat(40),
        "abcd".repeat(8),
        "x".repeat(40),
    );
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("APP__JWT__SECRET", &a32)], "jwt.secret"),
        (vec![("APP__JWT__SECRET", &ab40)], "jwt.secret"),
        (vec![("APP__JWT__SECRET", &dev_plus_space)], "jwt.secret"),
        (
            vec![
                ("APP__JWT__SECRET", STRONG_JWT),
                ("APP__INTERNAL__TOKEN", &abcd8),
            ],
            "internal.token",
        ),
        (
            vec![
                ("APP__JWT__SECRET", STRONG_JWT),
                ("APP__INTERNAL__TOKEN", STRONG_INTERNAL),
                ("APP__PASSWORD__BCRYPT_COST", "4"),
            ],
            "password.bcrypt_cost",
        ),
        (
            vec![
                ("APP__JWT__SECRET", STRONG_JWT),
                ("APP__INTERNAL__TOKEN", STRONG_INTERNAL),
                ("APP__ADMIN__TOKEN", &x40),
            ],
            "admin.token",
        ),
        (
            vec![
                ("APP__JWT__SECRET", STRONG_JWT),
                ("APP__INTERNAL__TOKEN", STRONG_INTERNAL),
                ("APP__SESSION__ACCEPT_USER_ID_HEADER", "true"),
            ],
            "session.accept_user_id_header",
        ),
    ];
    for (envs, key) in cases {
        let mut envs = envs;
        envs.push(("APP_ENV", "production"));
        let log = refused_at_start("auth-service", &envs)
            .await
            .unwrap_or_else(|| panic!("started in production with a bad {key}"));
        assert!(log.contains(key), "{key}: {log}");
    }
    // Strong secrets and a production cost start (MongoDB need not answer yet).
    let started = refused_at_start(
        "auth-service",
        &[
            ("APP_ENV", "production"),
            ("APP__JWT__SECRET", STRONG_JWT),
            ("APP__INTERNAL__TOKEN", STRONG_INTERNAL),
            ("APP__PASSWORD__BCRYPT_COST", "10"),
        ],
    )
    .await;
    assert!(
        started.is_none(),
        "a sound production config was refused: {started:?}"
    );
}

#[tokio::test]
async fn production_seed_mode_and_plain_http_to_another_host_are_refused() {
    let base = [
        ("APP_ENV", "production"),
        ("APP__JWT__SECRET", STRONG_JWT),
        ("APP__INTERNAL__TOKEN", STRONG_INTERNAL),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut envs = base.to_vec();
        envs.extend_from_slice(extra);
        envs
    };
    let log = refused_at_start(
        "resource-service",
        &with(&[("APP__SESSION__ACCEPT_USER_ID_HEADER", "true")]),
    )
    .await
    .expect("seed mode refused in production");
    assert!(log.contains("session.accept_user_id_header"), "{log}");

    let remote = [
        ("APP__VALIDATION__MODE", "remote"),
        (
            "APP__AUTH_SERVICE__URL",
            "http://auth.internal.example:8080",
        ),
    ];
    let log = refused_at_start("resource-service", &with(&remote))
        .await
        .expect("plain http to another host refused in production");
    assert!(log.contains("auth_service.url"), "{log}");
    // Loopback, https, or an explicit allowance start.
    for extra in [
        vec![
            ("APP__VALIDATION__MODE", "remote"),
            ("APP__AUTH_SERVICE__URL", "http://127.0.0.1:1"),
        ],
        vec![
            ("APP__VALIDATION__MODE", "remote"),
            ("APP__AUTH_SERVICE__URL", "https://auth.internal.example"),
        ],
        vec![
            ("APP__VALIDATION__MODE", "remote"),
            (
                "APP__AUTH_SERVICE__URL",
                "http://auth.internal.example:8080",
            ),
            ("APP__AUTH_SERVICE__ALLOW_PLAIN_HTTP", "true"),
        ],
    ] {
        let started = refused_at_start("resource-service", &with(&extra)).await;
        assert!(started.is_none(), "{extra:?} was refused: {started:?}");
    }
}

fn session_core_dev_secret() -> &'static str {
    "dev-only-secret-change-me-0123456789abcdef"
}
