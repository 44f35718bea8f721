//! `sessions list` and `sessions end` against sessions the auth-service's code made.

use futures_util::StreamExt;
use session_core::settings::PerUser;

use crate::helpers::{PASSWORD, World, env, keys, redis, sessionctl};

#[tokio::test]
async fn listing_by_email_shows_every_session_newest_first() {
    let world = World::new(PerUser::Multiple).await;
    let (email, user_id, sessions) = world.user_with_sessions(3).await;
    let (_, _, others) = world.user_with_sessions(1).await;

    // The email as a person might type it: normalised as at login.
    let typed = format!("  {}  ", email.to_uppercase());
    let listed = world
        .ctl(&["--json", "sessions", "list", "--email", &typed])
        .await
        .ok()
        .json();
    assert_eq!(listed["userId"], user_id.as_str());
    assert_eq!(listed["email"], email.as_str());
    assert_eq!(listed["perUser"], "multiple");
    let ids: Vec<&str> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = sessions.iter().rev().map(String::as_str).collect();
    assert_eq!(ids, newest_first);
    assert!(!ids.contains(&others[0].as_str()), "another user's session");
    let first = &listed["sessions"][0];
    assert_eq!(first["userAgent"], "device-2");
    assert_eq!(first["ip"], "192.0.2.7");
    assert!(first["expiresAt"].as_str().unwrap().ends_with('Z'));

    let table = world
        .ctl(&["sessions", "list", "--user-id", &user_id])
        .await
        .ok()
        .stdout;
    assert!(
        table.contains("SESSION ID") && table.contains("USER AGENT"),
        "{table}"
    );
    for id in &sessions {
        assert!(table.contains(id.as_str()), "{table}");
    }
    assert!(
        table.contains("device-0") && table.contains("3 live sessions"),
        "{table}"
    );
}

#[tokio::test]
async fn ending_one_session_removes_it_from_redis_and_tells_the_caches() {
    let world = World::new(PerUser::Multiple).await;
    let (email, user_id, sessions) = world.user_with_sessions(3).await;
    let client = redis::Client::open(env("TEST_REDIS_URL")).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub
        .subscribe(format!("{}invalidate", world.prefix))
        .await
        .unwrap();

    let ended = world
        .ctl(&[
            "sessions",
            "end",
            "--email",
            &email,
            "--session",
            &sessions[1],
        ])
        .await
        .ok();
    assert!(
        ended
            .stdout
            .contains(&format!("ended session {}", sessions[1])),
        "{ended:?}"
    );

    let session_key = |id: &str| format!("{}{{{user_id}}}:{id}", world.prefix);
    let mut conn = redis().await;
    let exists = |key: String| {
        let mut conn = conn.clone();
        async move {
            redis::cmd("EXISTS")
                .arg(key)
                .query_async::<i64>(&mut conn)
                .await
                .unwrap()
        }
    };
    assert_eq!(exists(session_key(&sessions[1])).await, 0, "ended in Redis");
    assert_eq!(exists(session_key(&sessions[0])).await, 1);
    assert_eq!(exists(session_key(&sessions[2])).await, 1);
    let index: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{}{{{user_id}}}:index", world.prefix))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(index, vec![sessions[0].clone(), sessions[2].clone()]);

    // The validation caches hear of it on the invalidation channel.
    let message = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        pubsub.on_message().next(),
    )
    .await
    .expect("an invalidation within 5 s")
    .unwrap();
    assert_eq!(message.get_payload::<String>().unwrap(), user_id);

    let listed = world
        .ctl(&["--json", "sessions", "list", "--email", &email])
        .await
        .ok()
        .json();
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 2);

    // The same session a second time is not one of the user's any more.
    world
        .ctl(&[
            "sessions",
            "end",
            "--email",
            &email,
            "--session",
            &sessions[1],
        ])
        .await
        .failed(1);
}

#[tokio::test]
async fn ending_all_sessions_leaves_nothing_of_the_user_in_redis() {
    let world = World::new(PerUser::Multiple).await;
    let (_, user_id, sessions) = world.user_with_sessions(3).await;
    let (_, other_id, _) = world.user_with_sessions(2).await;
    let user_keys = |id: &str| format!("{}{{{id}}}*", world.prefix);
    assert_eq!(keys(&user_keys(&user_id)).await.len(), sessions.len() + 1);

    let ended = world
        .ctl(&["--json", "sessions", "end", "--user-id", &user_id, "--all"])
        .await
        .ok()
        .json();
    assert_eq!(ended["ended"], 3);
    assert_eq!(ended["userId"], user_id.as_str());
    assert!(
        keys(&user_keys(&user_id)).await.is_empty(),
        "sessions and index gone"
    );
    assert_eq!(
        keys(&user_keys(&other_id)).await.len(),
        3,
        "others keep theirs"
    );

    let listed = world
        .ctl(&["sessions", "list", "--user-id", &user_id])
        .await
        .ok();
    assert!(listed.stdout.contains("no live sessions"), "{listed:?}");
    let again = world
        .ctl(&["sessions", "end", "--user-id", &user_id, "--all"])
        .await
        .ok();
    assert!(again.stdout.contains("ended 0 sessions"), "{again:?}");
}

#[tokio::test]
async fn single_mode_lists_and_ends_the_one_session() {
    let world = World::new(PerUser::Single).await;
    let (email, user_id, sessions) = world.user_with_sessions(2).await;
    assert_eq!(
        sessions[0], sessions[1],
        "single mode: the second login reuses"
    );
    let key = format!("{}{user_id}", world.prefix);

    let listed = world
        .ctl(&["--json", "sessions", "list", "--email", &email])
        .await
        .ok()
        .json();
    assert_eq!(listed["perUser"], "single");
    assert_eq!(listed["sessions"][0]["sessionId"], sessions[0].as_str());
    assert_eq!(listed["sessions"][0]["userAgent"], "device-0");
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 1);

    world
        .ctl(&[
            "sessions",
            "end",
            "--email",
            &email,
            "--session",
            &sessions[0],
        ])
        .await
        .ok();
    assert_eq!(keys(&key).await, Vec::<String>::new(), "the key is gone");

    let again = world
        .accounts
        .log_in(&email, PASSWORD.to_owned(), Default::default())
        .await
        .unwrap()
        .session_id;
    assert_ne!(again, sessions[0]);
    assert_eq!(keys(&key).await, vec![key.clone()]);
    let ended = world
        .ctl(&["sessions", "end", "--user-id", &user_id, "--all"])
        .await
        .ok();
    assert!(ended.stdout.contains("ended 1 session of"), "{ended:?}");
    assert!(keys(&key).await.is_empty());
}

#[tokio::test]
async fn unknown_users_and_sessions_are_clear_errors() {
    let world = World::new(PerUser::Multiple).await;
    let (email, user_id, _) = world.user_with_sessions(1).await;

    let nobody = world
        .ctl(&["sessions", "list", "--email", "nobody-here@example.com"])
        .await
        .failed(1);
    assert!(
        nobody
            .stderr
            .contains("no user with the email nobody-here@example.com"),
        "{nobody:?}"
    );
    let not_email = world
        .ctl(&["sessions", "list", "--email", "not an email"])
        .await
        .failed(1);
    assert!(
        not_email.stderr.contains("not an email address"),
        "{not_email:?}"
    );
    let not_id = world
        .ctl(&["sessions", "list", "--user-id", "42"])
        .await
        .failed(1);
    assert!(not_id.stderr.contains("not a user id"), "{not_id:?}");
    let no_session = world
        .ctl(&[
            "sessions",
            "end",
            "--user-id",
            &user_id,
            "--session",
            "AAAAAAAAAAAAAAAAAAAAAA",
        ])
        .await
        .failed(1);
    assert!(
        no_session.stderr.contains("has no live session"),
        "{no_session:?}"
    );
    // A session id may begin with '-': it is still the value of --session.
    let dashed = world
        .ctl(&[
            "sessions",
            "end",
            "--user-id",
            &user_id,
            "--session",
            "-AAAAAAAAAAAAAAAAAAAAA",
        ])
        .await
        .failed(1);
    assert!(dashed.stderr.contains("has no live session"), "{dashed:?}");
    // Ending needs to be told which: one session, or all.
    world
        .ctl(&["sessions", "end", "--email", &email])
        .await
        .failed(2);
    world
        .ctl(&[
            "sessions",
            "end",
            "--email",
            &email,
            "--all",
            "--session",
            "x",
        ])
        .await
        .failed(2);
}

#[tokio::test]
async fn a_redis_that_does_not_answer_is_a_clear_error() {
    let world = World::new(PerUser::Multiple).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut envs = world.envs.clone();
    envs.push((
        "APP__REDIS__URL".into(),
        format!("redis://app:hunter2-secret@127.0.0.1:{port}"),
    ));
    envs.push(("APP__REDIS__TIMEOUT_MS".into(), "300".into()));
    let run = sessionctl(
        &["sessions", "list", "--user-id", "65f0c0ffee0123456789abcd"],
        &envs,
    )
    .await
    .failed(1);
    assert!(run.stderr.contains("Redis did not answer"), "{run:?}");
    assert!(!run.printed().contains("hunter2-secret"), "{run:?}");
}
