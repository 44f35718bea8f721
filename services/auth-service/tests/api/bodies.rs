use reqwest::StatusCode;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn oversized_body_is_413_and_broken_json_is_400() {
    let app = spawn_app().await;
    let big = format!(
        r#"{{"email":"a@example.com","password":"{}"}}"#,
        "x".repeat(20 * 1024)
    );
    for path in ["/signup", "/login"] {
        let res = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
        for body in [
            "{",
            "not json",
            r#"{"email":"a@example.com"}"#,
            r#"{"email":1,"password":"12345678"}"#,
            "[]",
            "",
        ] {
            let res = app
                .client
                .post(app.url(path))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
        }
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.client.get(app.url("/login")).send().await.unwrap();
    assert_error(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn responses_carry_no_store_nosniff_and_no_server_header() {
    let app = crate::helpers::spawn_app().await;
    let email = crate::helpers::unique_email();
    let signed = app.sign_up(&email, crate::helpers::PASSWORD).await;
    let login = app.log_in(&email, crate::helpers::PASSWORD).await;
    let body: serde_json::Value = login.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    let session = app.get_session(Some(&format!("Bearer {token}"))).await;
    let login_again = app.log_in(&email, crate::helpers::PASSWORD).await;
    let missing = app.client.get(app.url("/nowhere")).send().await.unwrap();
    let wrong_method = app.client.delete(app.url("/session")).send().await.unwrap();
    for res in [&signed, &session, &login_again, &missing, &wrong_method] {
        assert_eq!(
            res.headers()["x-content-type-options"],
            "nosniff",
            "{}",
            res.url()
        );
        assert!(
            res.headers().get("server").is_none(),
            "no server header on {}",
            res.url()
        );
    }
    for res in [&session, &login_again] {
        assert_eq!(res.headers()["cache-control"], "no-store", "{}", res.url());
    }
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    let logout = app.log_out(&format!("Bearer {token}")).await;
    assert_eq!(logout.headers()["cache-control"], "no-store");
    assert_eq!(logout.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_so_a_foreign_form_cannot_log_in() {
    let app = crate::helpers::spawn_app().await;
    let email = crate::helpers::unique_email();
    app.sign_up(&email, crate::helpers::PASSWORD).await;
    let body = format!(
        r#"{{"email":"{email}","password":"{}"}}"#,
        crate::helpers::PASSWORD
    );
    for path in ["/login", "/signup"] {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            None,
        ] {
            let mut req = app.client.post(app.url(path)).body(body.clone());
            if let Some(content_type) = content_type {
                req = req.header("content-type", content_type);
            }
            let res = req.send().await.unwrap();
            crate::helpers::assert_error(
                res,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .await;
        }
    }
    // JSON with a charset parameter is JSON.
    let res = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_sign_up_answer_is_not_cached() {
    let app = crate::helpers::spawn_app().await;
    let res = app
        .sign_up(&crate::helpers::unique_email(), crate::helpers::PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
}

/// Sends raw bytes on a fresh connection; the whole answer, until the server closes.
async fn raw(app: &crate::helpers::TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn the_http_parser_s_own_refusals_carry_the_contract_body() {
    let app = crate::helpers::spawn_app().await;
    let many_headers: String = (0..120).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), "400"),
        (
            b"GET /health/live HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(),
            "400",
        ),
        (
            format!("GET /health/live HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n").into_bytes(),
            "431",
        ),
        (
            format!(
                "GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(140 * 1024)
            )
            .into_bytes(),
            "431",
        ),
    ];
    for (request, status) in cases {
        let answer = raw(&app, &request).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{answer:.200}"
        );
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        assert_eq!(json["error"], "invalid_request", "{body}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // A well-formed request on the same server is untouched.
    let answer = raw(
        &app,
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:.200}");
}
