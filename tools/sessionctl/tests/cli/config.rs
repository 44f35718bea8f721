//! `config check`: the services' own loader and refusals, every secret masked.

use serde_json::Value;
use session_core::settings::SettingsError;

use crate::helpers::{Run, pairs, sessionctl};

const JWT_SECRET: &str = "9c1f0e7a5b3d8f2a6e4c0b9d7f5a3e1c-jwt-only";
const INTERNAL_TOKEN: &str = "4e8a2c6f0b9d1e3a5c7f9b2d4e6a8c0f-internal";
const ADMIN_TOKEN: &str = "b7d9f1a3c5e7092b4d6f8a1c3e5b7d9f-admin";
const REDIS_PASSWORD: &str = "r3dis-Pa55-kept-out";
const MONGO_PASSWORD: &str = "m0ngo-Pa55-kept-out";
const PROXY_PASSWORD: &str = "pr0xy-Pa55-kept-out";
const SENTINEL_PASSWORD: &str = "5e7f9a1b3c5d7e9f0a2b4c6d8e0f1a3b-sentinel";

fn assert_hidden(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.printed().contains(secret),
            "{secret} printed: {run:#?}"
        );
    }
}

fn setting<'a>(json: &'a Value, key: &str) -> &'a Value {
    &json["settings"][key]
}

#[tokio::test]
async fn config_check_shows_what_the_auth_service_starts_with_and_masks_every_secret() {
    let key = sessionctl(&["keygen", "--key-id", "k1", "--json"], &[])
        .await
        .ok()
        .json();
    let pem = key["privateKeyPem"].as_str().unwrap();
    let pem_body = pem.lines().nth(1).unwrap();
    let redis_url = format!("redis://app:{REDIS_PASSWORD}@127.0.0.1:6390/2");
    let mongo_uri = format!("mongodb://ada:{MONGO_PASSWORD}@127.0.0.1:27018/?authSource=admin");
    let envs = pairs(&[
        ("APP_ENV", "production"),
        ("APP__JWT__SECRET", JWT_SECRET),
        ("APP__INTERNAL__TOKEN", INTERNAL_TOKEN),
        ("APP__ADMIN__TOKEN", ADMIN_TOKEN),
        ("APP__REDIS__URL", &redis_url),
        ("APP__MONGODB__URI", &mongo_uri),
        ("APP__JWT__ALGORITHM", "EdDSA"),
        ("APP__JWT__SIGNING_KEY", pem),
        ("APP__JWT__SIGNING_KEY_ID", "k1"),
        ("APP__SERVER__PORT", "9090"),
    ]);
    let secrets = [
        JWT_SECRET,
        INTERNAL_TOKEN,
        ADMIN_TOKEN,
        REDIS_PASSWORD,
        MONGO_PASSWORD,
        pem_body,
    ];

    let text = sessionctl(&["config", "check", "--service", "auth"], &envs)
        .await
        .ok();
    assert_hidden(&text, &secrets);
    for shown in [
        "would start",
        "environment: production",
        "APP__JWT__SECRET",
        "redis://app:***@127.0.0.1:6390/2",
        "mongodb://ada:***@127.0.0.1:27018/?authSource=admin",
        "9090",
        "*** (PEM text)",
    ] {
        assert!(text.stdout.contains(shown), "{shown}: {text:#?}");
    }

    let run = sessionctl(&["--json", "config", "check", "--service", "auth"], &envs)
        .await
        .ok();
    assert_hidden(&run, &secrets);
    let json = run.json();
    assert_eq!(json["service"], "auth-service");
    assert_eq!(json["starts"], true);
    assert_eq!(setting(&json, "server.port"), 9090);
    assert_eq!(setting(&json, "jwt.algorithm"), "EdDSA");
    assert_eq!(setting(&json, "jwt.signing_key_id"), "k1");
    assert_eq!(setting(&json, "jwt.secret"), "***");
    assert_eq!(setting(&json, "internal.token"), "***");
    assert_eq!(setting(&json, "admin.token"), "***");
    assert_eq!(setting(&json, "mongodb.database"), "session_store");
}

#[tokio::test]
async fn config_check_of_the_resource_service_masks_its_secrets_too() {
    let proxy = format!("http://ops:{PROXY_PASSWORD}@proxy.internal:3128");
    let envs = pairs(&[
        ("APP__VALIDATION__MODE", "remote"),
        ("APP__AUTH_SERVICE__URL", "https://auth.internal"),
        ("APP__AUTH_SERVICE__PROXY", &proxy),
        ("APP__INTERNAL__TOKEN", INTERNAL_TOKEN),
        ("APP__JWT__SECRET", JWT_SECRET),
        (
            "APP__REDIS__URL",
            &format!("rediss://:{REDIS_PASSWORD}@cache:6380"),
        ),
        (
            "APP__REDIS__NODES",
            &format!("redis://:{REDIS_PASSWORD}@n1:7000,redis://:{REDIS_PASSWORD}@n2:7000"),
        ),
        ("APP__REDIS__SENTINEL_PASSWORD", SENTINEL_PASSWORD),
    ]);
    let run = sessionctl(
        &["--json", "config", "check", "--service", "resource"],
        &envs,
    )
    .await
    .ok();
    assert_hidden(
        &run,
        &[
            PROXY_PASSWORD,
            INTERNAL_TOKEN,
            JWT_SECRET,
            REDIS_PASSWORD,
            SENTINEL_PASSWORD,
        ],
    );
    let json = run.json();
    assert_eq!(json["service"], "resource-service");
    assert_eq!(setting(&json, "validation.mode"), "remote");
    assert_eq!(
        setting(&json, "auth_service.proxy"),
        "http://ops:***@proxy.internal:3128"
    );
    assert_eq!(setting(&json, "redis.url"), "rediss://:***@cache:6380");
    assert_eq!(
        setting(&json, "redis.nodes"),
        "redis://:***@n1:7000,redis://:***@n2:7000"
    );
    assert_eq!(setting(&json, "redis.sentinel_password"), "***");
    assert_eq!(setting(&json, "server.port"), 8081);
}

#[tokio::test]
async fn production_with_the_development_secret_is_refused_in_the_services_words() {
    let refusal = SettingsError::DevelopmentValue { key: "jwt.secret" }.to_string();
    for service in ["auth", "resource"] {
        let run = sessionctl(
            &["config", "check", "--service", service],
            &pairs(&[("APP_ENV", "production")]),
        )
        .await
        .failed(1);
        assert!(run.stderr.contains("would refuse to start"), "{run:?}");
        assert!(run.stderr.contains(&refusal), "{service}: {run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
    }
    let run = sessionctl(
        &["config", "check", "--service", "auth", "--json"],
        &pairs(&[("APP_ENV", "production")]),
    )
    .await
    .failed(1);
    let json = run.json();
    assert_eq!(json["starts"], false);
    assert_eq!(json["error"], refusal.as_str());
}

#[tokio::test]
async fn production_refuses_eddsa_without_a_signing_key() {
    let run = sessionctl(
        &["config", "check", "--service", "auth"],
        &pairs(&[
            ("APP_ENV", "production"),
            ("APP__JWT__ALGORITHM", "EdDSA"),
            ("APP__INTERNAL__TOKEN", INTERNAL_TOKEN),
        ]),
    )
    .await
    .failed(1);
    assert!(
        run.stderr.contains("needs jwt.signing_key"),
        "the auth-service would make a throwaway key: {run:?}"
    );
    // Outside production the service makes one at start, and says so.
    let run = sessionctl(
        &["config", "check", "--service", "auth"],
        &pairs(&[("APP__JWT__ALGORITHM", "EdDSA")]),
    )
    .await
    .ok();
    assert!(
        run.stdout.contains("a new key is made at every start"),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_configuration_file_is_read_as_the_service_reads_it_and_the_environment_wins() {
    let dir = std::env::temp_dir().join(format!("sessionctl-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("resource.toml");
    std::fs::write(
        &file,
        "[server]\nport = 9999\n\n[session]\nkey_prefix = \"from-file:\"\nttl_seconds = 600\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let envs = pairs(&[("APP__SESSION__TTL_SECONDS", "900")]);

    let json = sessionctl(
        &[
            "config",
            "check",
            "--service",
            "resource",
            "--file",
            path,
            "--json",
        ],
        &envs,
    )
    .await
    .ok()
    .json();
    assert_eq!(json["configFile"], path);
    assert_eq!(setting(&json, "server.port"), 9999);
    assert_eq!(setting(&json, "session.key_prefix"), "from-file:");
    assert_eq!(setting(&json, "session.ttl_seconds"), 900, "APP__ wins");

    // APP_CONFIG_FILE, as the services read it, works the same.
    let mut with_variable = envs.clone();
    with_variable.push(("APP_CONFIG_FILE".into(), path.into()));
    let json = sessionctl(
        &["config", "check", "--service", "resource", "--json"],
        &with_variable,
    )
    .await
    .ok()
    .json();
    assert_eq!(setting(&json, "server.port"), 9999);

    // A typo in the file stops the service, naming the key it was probably meant to be.
    std::fs::write(&file, "[session]\nttl_second = 600\n").unwrap();
    let run = sessionctl(
        &["config", "check", "--service", "auth", "--file", path],
        &[],
    )
    .await
    .failed(1);
    assert!(
        run.stderr.contains("session.ttl_second") && run.stderr.contains("session.ttl_seconds"),
        "{run:?}"
    );
    let missing = dir.join("missing.toml");
    let run = sessionctl(
        &[
            "config",
            "check",
            "--service",
            "auth",
            "--file",
            missing.to_str().unwrap(),
        ],
        &[],
    )
    .await
    .failed(1);
    assert!(run.stderr.contains("missing.toml"), "{run:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A secret put under a numeric key, or in a file that is not valid TOML, is never
/// printed back: the refusal names the key, or the file's line and column.
#[tokio::test]
async fn a_malformed_value_or_file_is_reported_without_the_value() {
    let secret = "s3cret-0123456789-abcdefghijklmnop";
    let envs = pairs(&[("APP__SERVER__PORT", secret)]);
    let run = sessionctl(&["config", "check", "--service", "auth"], &envs)
        .await
        .failed(1);
    assert!(!run.printed().contains(secret), "{run:?}");
    assert!(run.stderr.contains("server.port"), "{run:?}");

    let dir = std::env::temp_dir().join(format!("sessionctl-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("auth.toml");
    std::fs::write(&file, format!("[jwt]\nsecret = \"{secret}\n")).unwrap();
    let run = sessionctl(
        &[
            "config",
            "check",
            "--service",
            "auth",
            "--file",
            file.to_str().unwrap(),
        ],
        &[],
    )
    .await
    .failed(1);
    assert!(!run.printed().contains(secret), "{run:?}");
    assert!(run.stderr.contains("line 2"), "{run:?}");
    assert!(run.stderr.contains("column"), "{run:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
