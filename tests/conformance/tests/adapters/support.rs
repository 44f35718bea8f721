//! A fixture: a store under a key prefix of its own, a codec, and tokens for every
//! case (live, revoked, unknown, expired, forged, of the wrong algorithm).

use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde::Deserialize;
use session_core::settings::{self, CookieSettings, JwtSettings, RedisSettings, SessionSettings};
use session_core::{CookiePolicy, LocalValidator, SessionStore, SessionValidator, TokenCodec};

/// The HS256 secret of every fixture's codec.
const SECRET: &str = "conformance-secret-that-is-long-enough-0123";
/// The session cookie's name (the default).
pub const COOKIE: &str = "__Host-session";

#[derive(Deserialize)]
struct Shared {
    redis: RedisSettings,
    session: SessionSettings,
    jwt: JwtSettings,
}

/// The Redis the test command started.
fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .expect("TEST_REDIS_URL is not set: run the tests through scripts/test.sh")
}

fn user_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..24].to_owned()
}

/// One configuration of a validator, with the tokens its cases present.
pub struct Fixture {
    /// The store the validators read.
    pub store: SessionStore,
    codec: Arc<TokenCodec>,
    seed: bool,
    /// The cookie policy the adapters get (none: cookies are not accepted).
    pub cookies: Option<CookiePolicy>,
    /// The user with a live session, and its email.
    pub user: String,
    /// The email of `user`.
    pub email: String,
    /// `user`'s live session.
    pub token: String,
    /// Another user's live session.
    pub other_token: String,
    /// A token of `user` that Redis does not hold (it holds `token`).
    pub revoked_token: String,
    /// A token of a user without a session.
    pub unknown_token: String,
    /// A user id without a session.
    pub unknown_user: String,
    /// `user`'s claims, expired.
    pub expired_token: String,
    /// Signed with another secret.
    pub foreign_token: String,
    /// Signed with HS384 (the codec pins HS256).
    pub wrong_algorithm_token: String,
}

impl Fixture {
    /// A fixture on the test Redis; `seed` turns on seed mode, `cookies` the cookie.
    pub async fn new(seed: bool, cookies: bool) -> Self {
        Self::on(&redis_url(), seed, cookies, true).await
    }

    /// A fixture whose Redis does not answer (a closed port).
    pub async fn unreachable() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        Self::on(&format!("redis://127.0.0.1:{port}"), false, true, false).await
    }

    async fn on(url: &str, seed: bool, cookies: bool, store_sessions: bool) -> Self {
        session_core::jwt_crypto::install();
        let shared: Shared = settings::defaults("").unwrap();
        let redis = RedisSettings {
            url: SecretString::from(url.to_owned()),
            timeout_ms: 300,
            ..shared.redis
        };
        let session = SessionSettings {
            ttl_seconds: 600,
            key_prefix: format!("conformance:{}:", uuid::Uuid::new_v4().simple()),
            accept_user_id_header: seed,
            cookie: CookieSettings {
                enabled: cookies,
                name: COOKIE.to_owned(),
            },
            ..shared.session
        };
        let jwt = JwtSettings {
            secret: SecretString::from(SECRET.to_owned()),
            ..shared.jwt
        };
        let store = SessionStore::new(&redis, &session).unwrap();
        let codec = Arc::new(TokenCodec::new(&jwt).unwrap());
        let (user, other, unknown) = (user_id(), user_id(), user_id());
        let email = format!("{user}@example.com");
        let (token, claims) = codec.issue(&user, &email, 600).unwrap();
        let (other_token, _) = codec.issue(&other, "other@example.com", 600).unwrap();
        let (revoked_token, _) = codec.issue(&user, &email, 600).unwrap();
        let (unknown_token, _) = codec.issue(&unknown, "nobody@example.com", 600).unwrap();
        if store_sessions {
            store.create_or_reuse(&user, &token).await.unwrap();
            store.create_or_reuse(&other, &other_token).await.unwrap();
        }
        let sign = |algorithm: Algorithm, secret: &str, claims: &session_core::Claims| {
            jsonwebtoken::encode(
                &Header::new(algorithm),
                claims,
                &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
            )
            .unwrap()
        };
        let mut expired = claims.clone();
        expired.iat -= 1000;
        expired.exp = chrono::Utc::now().timestamp() - 120;
        let expired_token = sign(Algorithm::HS256, SECRET, &expired);
        let foreign_token = sign(
            Algorithm::HS256,
            "another-secret-that-is-long-enough-0123",
            &claims,
        );
        let wrong_algorithm_token = sign(Algorithm::HS384, SECRET, &claims);
        Self {
            cookies: CookiePolicy::from_settings(&session.cookie),
            store,
            codec,
            seed,
            user,
            email,
            token,
            other_token,
            revoked_token,
            unknown_token,
            unknown_user: unknown,
            expired_token,
            foreign_token,
            wrong_algorithm_token,
        }
    }

    /// A validator of this fixture (each server gets its own, as each service has).
    pub fn validator(&self) -> SessionValidator {
        SessionValidator::Local(LocalValidator::new(
            self.codec.clone(),
            self.store.clone(),
            self.seed,
        ))
    }
}
