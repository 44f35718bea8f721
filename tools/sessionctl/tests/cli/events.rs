//! `sessionctl events tail`: the stream as JSON lines, from the start or as it grows.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use session_core::settings::PerUser;
use tokio::io::AsyncReadExt;

use crate::helpers::World;

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test]
async fn tail_prints_the_stream_from_the_start_and_as_it_grows() {
    let world = World::new(PerUser::Multiple).await;
    let (email, user_id, sessions) = world.user_with_sessions(1).await;

    let run = world
        .ctl(&["events", "tail", "--from-start", "--count", "2"])
        .await
        .ok();
    let events = lines(&run.stdout);
    assert_eq!(events.len(), 2, "{run:?}");
    assert_eq!(events[0]["type"], "user.created");
    assert_eq!(events[0]["email"], email.as_str());
    assert_eq!(events[1]["type"], "session.created");
    assert_eq!(events[1]["sessionId"], sessions[0].as_str());
    assert!(events.iter().all(|e| e["userId"] == user_id.as_str()));

    // Only what comes after it starts: the operator's own sign-out.
    let mut tail = tokio::process::Command::new(env!("CARGO_BIN_EXE_sessionctl"))
        .args(["events", "tail", "--count", "1"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(world.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    world
        .ctl(&["sessions", "end", "--user-id", &user_id, "--all"])
        .await
        .ok();
    let status = tokio::time::timeout(Duration::from_secs(10), tail.wait())
        .await
        .expect("tail stops after one event")
        .unwrap();
    assert!(status.success());
    let mut out = String::new();
    tail.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    let events = lines(&out);
    assert_eq!(events.len(), 1, "{out}");
    assert_eq!(events[0]["type"], "session.ended");
    assert_eq!(events[0]["reason"], "admin");
    assert_eq!(events[0]["sessionId"], sessions[0].as_str());
}

#[tokio::test]
async fn tail_says_so_when_events_are_off() {
    let world = World::new(PerUser::Single).await;
    let mut envs = world.envs.clone();
    envs.push(("APP__EVENTS__ENABLED".into(), "false".into()));
    let run = crate::helpers::sessionctl(&["events", "tail"], &envs)
        .await
        .failed(1);
    assert!(run.stderr.contains("events.enabled"), "{run:?}");
}
