use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{PASSWORD, assert_error, spawn_app, unique_email};

#[tokio::test]
async fn sign_up_creates_a_user_with_the_contract_fields() {
    let app = spawn_app().await;
    let email = unique_email();
    let res = app
        .sign_up(&format!("  {}  ", email.to_uppercase()), PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    let user_id = body["userId"].as_str().unwrap();
    assert_eq!(user_id.len(), 24);
    assert!(
        user_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(body["email"], email, "email is trimmed and lowercased");
    let created = body["createdAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );
    assert!(created.ends_with('Z'));
}

#[tokio::test]
async fn same_email_in_another_case_is_taken() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_eq!(
        app.sign_up(&email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let res = app.sign_up(&email.to_uppercase(), PASSWORD).await;
    assert_error(res, StatusCode::CONFLICT, "email_taken").await;
}

#[tokio::test]
async fn invalid_emails_and_weak_passwords_are_422() {
    let app = spawn_app().await;
    for email in [
        "not-an-email",
        "a@b",
        "two@@example.com",
        "",
        &format!("{}@example.com", "a".repeat(250)),
        // Markup and separators are no part of an address (the contract's rule).
        "\"><svg/onload=alert(1)>@example.com",
        "a,b@example.com",
        "a;b@example.com",
        "a b@example.com",
        "a`b@example.com",
        "a\\b@example.com",
        "(a)@example.com",
        "a..b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a@exa_mple.com",
        "a@[127.0.0.1]",
    ] {
        let res = app.sign_up(email, PASSWORD).await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "invalid_email").await;
    }
    for password in ["short", "1234567", &"x".repeat(73)] {
        let res = app.sign_up(&unique_email(), password).await;
        assert_error(res, StatusCode::UNPROCESSABLE_ENTITY, "weak_password").await;
    }
    // Dot-atom characters and letters of one script are fine.
    for local in ["o'brien", "a+tag", "first.last", "josé", "x_y-z"] {
        let email = format!(
            "{local}.{}@example.com",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let res = app.sign_up(&email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{email}");
    }
    let res = app.sign_up(&unique_email(), &"x".repeat(72)).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "72 bytes is the longest accepted"
    );
}

#[tokio::test]
async fn two_racing_sign_ups_for_one_email_give_one_user() {
    let app = spawn_app().await;
    let email = unique_email();
    let upper = email.to_uppercase();
    let (a, b) = tokio::join!(app.sign_up(&email, PASSWORD), app.sign_up(&upper, PASSWORD));
    let mut statuses = vec![a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, vec![StatusCode::CREATED, StatusCode::CONFLICT]);
}

#[tokio::test]
async fn lookalikes_of_an_account_are_the_account_or_refused() {
    let app = spawn_app().await;
    let local = format!("ada{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let email = format!("{local}@example.com");
    assert_eq!(
        app.sign_up(&email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    // Fullwidth letters fold into the same address: taken, and they log in.
    let fullwidth: String = local
        .chars()
        .map(|c| char::from_u32(c as u32 - 0x21 + 0xff01).unwrap())
        .collect();
    let fullwidth = format!("{fullwidth}@example.com");
    assert_error(
        app.sign_up(&fullwidth, PASSWORD).await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    assert_eq!(
        app.log_in(&fullwidth, PASSWORD).await.status(),
        StatusCode::OK
    );
    // Invisible, mixed-script and decorated variants are no email at all.
    for lookalike in [
        format!("{}\u{200b}{}@example.com", &local[..1], &local[1..]),
        format!("{local}\u{200d}@example.com"),
        format!("\u{430}{}@example.com", &local[1..]),
        format!("{}\u{338}{}@example.com", &local[..1], &local[1..]),
        format!("{local}@ex\u{430}mple.com"),
    ] {
        assert_error(
            app.sign_up(&lookalike, PASSWORD).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
        )
        .await;
    }
}
