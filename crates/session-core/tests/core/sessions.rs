//! The session store and validation against a real Redis.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::events::Reason;
use session_core::{AuthError, Credential, LocalValidator, SessionStore, StoreError, TokenCodec};

use crate::support::{SECRET, jwt_settings, redis_url, store_at, unique_prefix, user_id};

struct Fixture {
    store: SessionStore,
    codec: Arc<TokenCodec>,
    redis: redis::aio::MultiplexedConnection,
    prefix: String,
}

async fn fixture(name: &str, ttl: u64) -> Fixture {
    let prefix = unique_prefix(name);
    let store = store_at(&redis_url(), &prefix, ttl, 1000);
    let codec = Arc::new(TokenCodec::new(&jwt_settings()).expect("codec"));
    let redis = redis::Client::open(redis_url())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("a running Redis at TEST_REDIS_URL");
    Fixture {
        store,
        codec,
        redis,
        prefix,
    }
}

impl Fixture {
    async fn keys(&mut self) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut self.redis)
            .await
            .expect("KEYS")
    }

    async fn ttl(&mut self, key: &str) -> i64 {
        redis::cmd("TTL")
            .arg(key)
            .query_async(&mut self.redis)
            .await
            .expect("TTL")
    }

    async fn value(&mut self, key: &str) -> Option<String> {
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.redis)
            .await
            .expect("GET")
    }

    fn issue(&self, user: &str) -> String {
        self.codec
            .issue(user, "ada@example.com", self.store.ttl_seconds())
            .expect("issue")
            .0
    }

    fn validator(&self, seed: bool) -> LocalValidator {
        LocalValidator::new(self.codec.clone(), self.store.clone(), seed)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_logins_share_one_token_and_one_key() {
    let mut f = fixture("race", 43200).await;
    let user = user_id();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let store = f.store.clone();
        let token = f.issue(&user);
        let user = user.clone();
        tasks.spawn(async move { store.create_or_reuse(&user, &token).await });
    }
    let mut tokens = HashSet::new();
    let mut created = 0;
    while let Some(joined) = tasks.join_next().await {
        let stored = joined.expect("task").expect("create_or_reuse");
        if !stored.reused {
            created += 1;
        }
        tokens.insert(stored.token);
    }
    assert_eq!(tokens.len(), 1, "all 50 logins must see one token");
    assert_eq!(created, 1, "exactly one call creates the session");
    let keys = f.keys().await;
    assert_eq!(keys, vec![f.store.key(&user)]);
    let ttl = f.ttl(&keys[0]).await;
    assert!(
        (43198..=43200).contains(&ttl),
        "TTL {ttl} not within 2 s of 43200"
    );
    let value = f.value(&keys[0]).await;
    assert_eq!(value.as_ref(), tokens.iter().next());
}

#[tokio::test]
async fn stored_value_is_the_jwt_and_its_exp_matches_the_key_expiry() {
    let mut f = fixture("exp", 600).await;
    let user = user_id();
    let token = f.issue(&user);
    let stored = f
        .store
        .create_or_reuse(&user, &token)
        .await
        .expect("create");
    assert!(!stored.reused);
    let key = f.store.key(&user);
    assert_eq!(key, format!("{}{}", f.prefix, user));
    let value = f.value(&key).await.expect("key exists");
    assert_eq!(value, token);
    let claims = f.codec.decode(&value).expect("stored value is a valid JWT");
    assert_eq!(claims.sub, user);
    assert_eq!(claims.exp - claims.iat, 600);
    let key_expiry = chrono::Utc::now().timestamp() + f.ttl(&key).await;
    assert!(
        (claims.exp - key_expiry).abs() <= 2,
        "JWT exp {} vs key expiry {key_expiry}",
        claims.exp
    );
}

#[tokio::test]
async fn second_login_reuses_without_touching_the_ttl() {
    let mut f = fixture("reuse", 600).await;
    let user = user_id();
    let first = f.issue(&user);
    f.store
        .create_or_reuse(&user, &first)
        .await
        .expect("create");
    let second = f.issue(&user);
    assert_ne!(first, second, "two issued tokens differ (jti)");
    let again = f
        .store
        .create_or_reuse(&user, &second)
        .await
        .expect("reuse");
    assert!(again.reused);
    assert_eq!(again.token, first);
    assert_eq!(f.value(&f.store.key(&user)).await, Some(first));
}

#[tokio::test]
async fn revoke_with_a_stale_token_keeps_the_newer_session() {
    let mut f = fixture("revoke", 600).await;
    let user = user_id();
    let key = f.store.key(&user);
    let old = f.issue(&user);
    f.store.create_or_reuse(&user, &old).await.expect("create");
    assert!(
        f.store
            .revoke(&user, &old, Reason::Logout)
            .await
            .expect("revoke")
    );
    assert_eq!(f.value(&key).await, None);

    let newer = f.issue(&user);
    f.store
        .create_or_reuse(&user, &newer)
        .await
        .expect("create");
    assert!(
        !f.store
            .revoke(&user, &old, Reason::Logout)
            .await
            .expect("stale revoke")
    );
    assert_eq!(
        f.value(&key).await,
        Some(newer.clone()),
        "newer session kept"
    );

    assert!(
        f.store
            .revoke(&user, &newer, Reason::Logout)
            .await
            .expect("revoke")
    );
    assert_eq!(f.value(&key).await, None);
    assert!(
        !f.store
            .revoke(&user, &newer, Reason::Logout)
            .await
            .expect("second revoke")
    );
}

#[tokio::test]
async fn replace_only_swaps_the_token_it_was_told_about() {
    let mut f = fixture("replace", 600).await;
    let user = user_id();
    let (a, b, c) = (f.issue(&user), f.issue(&user), f.issue(&user));
    f.store.create_or_reuse(&user, &a).await.expect("create");
    assert!(!f.store.replace(&user, &b, &c).await.expect("replace"));
    assert!(f.store.replace(&user, &a, &b).await.expect("replace"));
    assert_eq!(f.value(&f.store.key(&user)).await, Some(b));
}

fn forge_expired(user: &str) -> String {
    session_core::jwt_crypto::install();
    let now = chrono::Utc::now().timestamp();
    let claims = session_core::Claims {
        sub: user.to_owned(),
        email: "ada@example.com".into(),
        iat: now - 100,
        exp: now - 50,
        jti: "x".into(),
        sid: "s".into(),
        ip: None,
        ua: None,
        iss: "session-store".into(),
        aud: "session-store".into(),
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).expect("key"),
    )
    .expect("encode")
}

#[tokio::test]
async fn expired_not_found_revoked_and_invalid_are_four_errors() {
    let f = fixture("errors", 600).await;
    let v = f.validator(false);

    // Expired: a correctly signed token whose exp has passed, even though Redis holds it.
    let expired_user = user_id();
    let expired = forge_expired(&expired_user);
    f.store
        .create_or_reuse(&expired_user, &expired)
        .await
        .expect("store");
    let e1 = v.validate(&Credential::Bearer(expired)).await;

    // Not found: a valid token, no key.
    let e2 = v.validate(&Credential::Bearer(f.issue(&user_id()))).await;

    // Revoked: Redis holds another token for the user.
    let user = user_id();
    let current = f.issue(&user);
    f.store
        .create_or_reuse(&user, &current)
        .await
        .expect("store");
    let stale = f.issue(&user);
    let e3 = v.validate(&Credential::Bearer(stale)).await;

    // Invalid: the current token with its payload changed.
    let mut parts: Vec<String> = current.split('.').map(str::to_owned).collect();
    parts[1] = format!("{}A", parts[1]);
    let e4 = v.validate(&Credential::Bearer(parts.join("."))).await;

    assert_eq!(e1.map(|s| s.user_id), Err(AuthError::SessionExpired));
    assert_eq!(e2.map(|s| s.user_id), Err(AuthError::SessionNotFound));
    assert_eq!(e3.map(|s| s.user_id), Err(AuthError::SessionRevoked));
    assert_eq!(e4.map(|s| s.user_id), Err(AuthError::InvalidToken));

    let ok = v
        .validate(&Credential::Bearer(current.clone()))
        .await
        .expect("valid");
    assert_eq!(ok.user_id, user);
    assert_eq!(ok.email, "ada@example.com");
    assert_eq!(ok.token, current);
}

#[tokio::test]
async fn seed_mode_validates_by_user_id_only_when_on() {
    let f = fixture("seed", 600).await;
    let user = user_id();
    let token = f.issue(&user);
    f.store.create_or_reuse(&user, &token).await.expect("store");
    let on = f.validator(true);
    let off = f.validator(false);
    let session = on
        .validate(&Credential::UserId(user.clone()))
        .await
        .expect("seed mode accepts the userId");
    assert_eq!(session.email, "ada@example.com");
    assert_eq!(session.token, token);
    assert_eq!(
        off.validate(&Credential::UserId(user.clone()))
            .await
            .map(|s| s.user_id),
        Err(AuthError::InvalidToken)
    );
    assert_eq!(
        on.validate(&Credential::UserId(user_id()))
            .await
            .map(|s| s.user_id),
        Err(AuthError::SessionNotFound)
    );
}

#[tokio::test]
async fn closed_port_is_unavailable_within_the_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let store = store_at(&format!("redis://127.0.0.1:{port}"), "closed:", 60, 300);
    let started = Instant::now();
    assert_eq!(store.get("u").await, Err(StoreError::Unavailable));
    assert_eq!(store.ping().await, Err(StoreError::Unavailable));
    assert!(started.elapsed() < Duration::from_millis(2 * 300 + 500 * 2));
    let started = Instant::now();
    assert_eq!(
        store.create_or_reuse("u", "t").await,
        Err(StoreError::Unavailable)
    );
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn silent_server_is_unavailable_within_the_timeout() {
    // Accepts connections and never answers: the hang a paused or overloaded Redis shows.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let store = store_at(&format!("redis://127.0.0.1:{port}"), "silent:", 60, 300);
    let started = Instant::now();
    assert_eq!(store.get("u").await, Err(StoreError::Unavailable));
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "took {:?}",
        started.elapsed()
    );
    let validator = LocalValidator::new(
        Arc::new(TokenCodec::new(&jwt_settings()).expect("codec")),
        store,
        false,
    );
    let codec = TokenCodec::new(&jwt_settings()).expect("codec");
    let (token, _) = codec.issue(&user_id(), "a@example.com", 60).expect("issue");
    let started = Instant::now();
    assert_eq!(
        validator
            .validate(&Credential::Bearer(token))
            .await
            .map(|s| s.user_id),
        Err(AuthError::Unavailable)
    );
    assert!(started.elapsed() < Duration::from_millis(800));
    holder.abort();
}

/// Records the users whose sessions a store says it changed.
#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<String>>);

impl session_core::store::Changes for Recorded {
    fn changed(&self, user_id: &str) {
        self.0.lock().unwrap().push(user_id.to_owned());
    }
}

/// The instance that ends a session tells its own validation cache before the call
/// returns (so it never serves the ended session from its cache, whatever the
/// invalidation channel's delay); reads tell nothing.
#[tokio::test]
async fn every_change_is_told_before_the_call_returns_and_reads_tell_nothing() {
    let recorded = Arc::new(Recorded::default());
    let store = store_at(&redis_url(), &unique_prefix("told"), 600, 1000).telling(recorded.clone());
    let codec = TokenCodec::new(&jwt_settings()).unwrap();
    let user = user_id();
    let (token, _) = codec.issue(&user, "a@example.com", 600).unwrap();
    let told = || recorded.0.lock().unwrap().len();
    store.create_or_reuse(&user, &token).await.unwrap();
    assert_eq!(told(), 1, "create");
    store.held(&user, "").await.unwrap();
    store.get(&user).await.unwrap();
    assert_eq!(told(), 1, "reads tell nothing");
    assert!(store.revoke(&user, &token, Reason::Logout).await.unwrap());
    assert_eq!(told(), 2, "revoke");
    store.create_or_reuse(&user, &token).await.unwrap();
    assert_eq!(
        store.end_all(&user, None, Reason::LogoutAll).await.unwrap(),
        1
    );
    assert_eq!(told(), 4, "end_all");
    assert!(recorded.0.lock().unwrap().iter().all(|u| *u == user));
}
