//! Every service accepts the session cookie the auth-service sets.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Options, PASSWORD, assert_error, stack, unique_email};

#[tokio::test]
async fn the_resource_service_accepts_the_session_cookie() {
    for cache in ["false", "true"] {
        let s = stack(Options {
            resource_env: vec![("APP__VALIDATION__CACHE".into(), cache.into())],
            ..Options::default()
        })
        .await;
        let email = unique_email();
        s.sign_up(&email).await;
        let res = s
            .client
            .post(s.auth.url("/login"))
            .json(&json!({"email": email, "password": PASSWORD, "cookie": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let session = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("__Host-session="))
            .and_then(|v| v.split(';').next())
            .expect("the session cookie")
            .to_owned();
        let me = |cookie: String| {
            s.client
                .get(s.resource.url("/me"))
                .header("Cookie", cookie)
                .send()
        };
        let res = me(format!("__Host-session={session}")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "cache {cache}");
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["email"],
            email
        );
        let res = me(format!("__Host-session={session}x")).await.unwrap();
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
        let res = me("other=1".into()).await.unwrap();
        assert_error(res, StatusCode::UNAUTHORIZED, "missing_authorization").await;
    }
}
