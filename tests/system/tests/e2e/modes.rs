use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Options, SECRET, assert_error, stack, unique_email};

#[tokio::test]
async fn seed_mode_on_accepts_a_user_id_and_off_refuses_it() {
    for seed in [true, false] {
        let s = stack(Options {
            seed,
            ..Options::default()
        })
        .await;
        let email = unique_email();
        let user = s.sign_up(&email).await;
        s.log_in(&email).await;
        let user_id = user["userId"].as_str().unwrap();
        for header in [user_id.to_owned(), format!("Bearer {user_id}")] {
            let res = s.me(Some(&header)).await;
            if seed {
                assert_eq!(res.status(), StatusCode::OK, "{header}");
                let me: Value = res.json().await.unwrap();
                assert_eq!(me["email"], email);
            } else {
                assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
            }
        }
        let warned = s
            .resource
            .log_text()
            .contains("accept_user_id_header is on");
        assert_eq!(
            warned, seed,
            "the resource-service warns at start exactly when seed mode is on"
        );
        assert_eq!(
            s.auth.log_text().contains("accept_user_id_header is on"),
            seed
        );
    }
}

#[tokio::test]
async fn seed_mode_works_through_remote_validation() {
    let s = stack(Options {
        seed: true,
        mode: "remote",
        ..Options::default()
    })
    .await;
    let email = unique_email();
    let user = s.sign_up(&email).await;
    s.log_in(&email).await;
    let res = s.me(Some(user["userId"].as_str().unwrap())).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn remote_mode_is_503_while_the_auth_service_is_down_and_recovers() {
    let mut s = stack(Options {
        mode: "remote",
        ..Options::default()
    })
    .await;
    let (_, auth) = s.session().await;
    assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);

    s.auth.stop();
    assert_error(
        s.me(Some(&auth)).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    let ready = s.ready().await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    s.auth.restart().await;
    let res = s.me(Some(&auth)).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "served again without restarting the resource-service"
    );
    let ready = s.ready().await;
    assert_eq!(ready.status(), StatusCode::OK);
}

fn forge(user_id: &str, email: &str, secret: &str, audience: &str) -> String {
    session_core::jwt_crypto::install();
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "sub": user_id, "email": email, "iat": now, "exp": now + 600,
        "jti": "forged", "iss": "session-store", "aud": audience,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn tokens_from_another_secret_or_audience_are_invalid_in_both_modes() {
    for mode in ["redis", "remote"] {
        let s = stack(Options {
            mode,
            ..Options::default()
        })
        .await;
        let email = unique_email();
        let user = s.sign_up(&email).await;
        s.log_in(&email).await;
        let user_id = user["userId"].as_str().unwrap();
        let other_secret = forge(
            user_id,
            &email,
            "another-secret-that-is-long-enough-987654",
            "session-store",
        );
        let other_audience = forge(user_id, &email, SECRET, "billing");
        for token in [other_secret, other_audience] {
            let res = s.me(Some(&format!("Bearer {token}"))).await;
            if mode == "redis" {
                assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
            } else {
                // Introspection answers only active or not; either way the caller is refused.
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "mode {mode}");
            }
        }
    }
}

#[tokio::test]
async fn the_request_id_reaches_the_auth_service_log() {
    let s = stack(Options {
        mode: "remote",
        ..Options::default()
    })
    .await;
    let (_, auth) = s.session().await;
    let request_id = format!("trace-{}", uuid::Uuid::new_v4().simple());
    let res = s
        .client
        .get(s.resource.url("/me"))
        .header("Authorization", &auth)
        .header("X-Request-Id", &request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-request-id"].to_str().unwrap(), request_id);
    // The auth-service logs the introspection call under the same id; the resource
    // service its own request. Logs are written by a thread of their own, in batches:
    // a line shows up a few milliseconds after the response.
    let logged = |log: String, path: &str| {
        log.lines()
            .any(|l| l.contains(&request_id) && l.contains(path))
    };
    let mut found = (false, false);
    for _ in 0..50 {
        found = (
            logged(s.auth.log_text(), "/introspect"),
            logged(s.resource.log_text(), "/me"),
        );
        if found == (true, true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(found.0, "auth-service log:\n{}", s.auth.log_text());
    assert!(found.1, "resource-service log:\n{}", s.resource.log_text());
}

#[tokio::test]
async fn remote_mode_reports_the_idle_deadline_like_redis_mode() {
    for mode in ["redis", "remote"] {
        let s = stack(Options {
            mode,
            extra: vec![("APP__SESSION__IDLE_TIMEOUT_SECONDS".into(), "600".into())],
            ..Options::default()
        })
        .await;
        let (_, auth) = s.session().await;
        let res = s.me(Some(&auth)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: serde_json::Value = res.json().await.unwrap();
        let expires = chrono::DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap())
            .unwrap()
            .timestamp();
        let now = chrono::Utc::now().timestamp();
        // The idle deadline (10 minutes), not the absolute lifetime (12 hours).
        assert!(
            (now + 590..=now + 610).contains(&expires),
            "{mode}: expiresAt {expires}, now {now}"
        );
    }
}
