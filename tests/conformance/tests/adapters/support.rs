//! A fixture: a store under a key prefix of its own, a codec, and tokens for every
//! case (live, revoked, unknown, expired, forged, of the wrong algorithm).

use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use session_core::settings::{CookieSettings, SessionSettings};
use session_core::{CookiePolicy, LocalValidator, SessionStore, SessionValidator, TokenCodec};
use test_support::settings::{jwt_settings, redis_settings, session_settings};
use test_support::{SECRET, free_port, redis_url, unique_prefix, user_id};

/// The session cookie's name (the default).
pub const COOKIE: &str = "__Host-session";

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
        let url = format!("redis://127.0.0.1:{}", free_port());
        Self::on(&url, false, true, false).await
    }

    async fn on(url: &str, seed: bool, cookies: bool, store_sessions: bool) -> Self {
        session_core::jwt_crypto::install();
        let redis = redis_settings(url, 300);
        let session = SessionSettings {
            accept_user_id_header: seed,
            cookie: CookieSettings {
                enabled: cookies,
                name: COOKIE.to_owned(),
            },
            ..session_settings(&unique_prefix("conformance"), 600)
        };
        let jwt = jwt_settings(SECRET);
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
