//! `GET /metrics` on both services: the contract's names, bounded labels.

use reqwest::StatusCode;

use crate::helpers::{Options, Service, stack};

async fn scrape(s: &crate::helpers::Stack, service: &Service) -> String {
    let res = s.client.get(service.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    res.text().await.unwrap()
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

fn series_count(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count()
}

#[tokio::test]
async fn both_services_serve_metrics_with_bounded_labels() {
    let s = stack(Options {
        resource_env: vec![("APP__VALIDATION__CACHE".into(), "true".into())],
        ..Options::default()
    })
    .await;
    let (_, auth) = s.session().await;
    // Let the cache subscribe, then hit it.
    let started = std::time::Instant::now();
    while !s.resource.log_text().contains("validation cache on") {
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for _ in 0..5 {
        assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);
    }
    let text = scrape(&s, &s.resource).await;
    assert!(
        sample(
            &text,
            r#"http_requests_total{service="resource-service",route="/me",method="GET",status="200"}"#
        )
        .is_some_and(|n| n >= 5.0),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        sample(&text, r#"validation_cache_events_total{event="hit"}"#).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(&text, r#"session_validations_total{outcome="ok"}"#).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        text.contains(r#"redis_command_duration_seconds_bucket{command="get""#),
        "{text}"
    );
    // A wrong password, a logout: the auth-service counts both.
    let wrong = s.try_log_in("nobody@example.com", "wrong password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.log_out(&auth).await.status(), StatusCode::NO_CONTENT);
    let auth_text = scrape(&s, &s.auth).await;
    for (series, at_least) in [
        (r#"logins_total{outcome="success"}"#, 1.0),
        (r#"logins_total{outcome="invalid_credentials"}"#, 1.0),
        ("sessions_created_total", 1.0),
        (r#"sessions_ended_total{reason="logout"}"#, 1.0),
        ("password_hash_queue_depth", 0.0),
    ] {
        assert!(
            sample(&auth_text, series).is_some_and(|n| n >= at_least),
            "{series} in {auth_text}"
        );
    }
    assert!(
        auth_text.contains(r#"http_requests_total{service="auth-service",route="/login",method="POST",status="200"}"#),
        "{auth_text}"
    );

    // A thousand distinct unknown paths add the one `unmatched` route, not a thousand.
    let before = series_count(&scrape(&s, &s.resource).await);
    for i in 0..1000 {
        let res = s
            .client
            .get(s.resource.url(&format!("/nowhere-{i}/{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    let text = scrape(&s, &s.resource).await;
    let after = series_count(&text);
    assert!(!text.contains("nowhere"), "a raw path became a label");
    assert!(after < before + 40, "{before} series before, {after} after");
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let s = stack(Options {
        extra: vec![("APP__METRICS__ENABLED".into(), "false".into())],
        ..Options::default()
    })
    .await;
    for service in [&s.auth, &s.resource] {
        let res = s.client.get(service.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
