//! Validation: a credential in, a [`Session`] or the contract's error out.

use std::sync::Arc;

use crate::cache::ValidationCache;
use crate::credential::{Credential, constant_time_eq};
use crate::error::AuthError;
use crate::session::Session;
use crate::settings::PerUser;
use crate::store::{SessionStore, token_digest};
use crate::token::{Claims, KeyRefresher, TokenCodec, TokenError};

/// A session from claims held elsewhere (the cache): copies only what a session shows.
fn session_of(claims: &Claims, token: String, ends_at: i64) -> Session {
    Session {
        token,
        user_id: claims.sub.clone(),
        session_id: claims.sid.clone(),
        email: claims.email.clone(),
        issued_at: claims.iat,
        expires_at: ends_at.min(claims.exp),
        absolute_expires_at: claims.exp,
    }
}

fn session_from(claims: Claims, token: String, ends_at: i64) -> Session {
    Session {
        token,
        user_id: claims.sub,
        session_id: claims.sid,
        email: claims.email,
        issued_at: claims.iat,
        expires_at: ends_at.min(claims.exp),
        absolute_expires_at: claims.exp,
    }
}

/// Validates credentials against the JWT codec and the Redis session store.
#[derive(Debug, Clone)]
pub struct LocalValidator {
    codec: Arc<TokenCodec>,
    store: SessionStore,
    accept_user_id: bool,
    refresher: Option<Arc<dyn KeyRefresher>>,
    cache: Option<Arc<ValidationCache>>,
}

impl LocalValidator {
    /// A validator over `codec` and `store`; `accept_user_id` turns on seed mode.
    pub fn new(codec: Arc<TokenCodec>, store: SessionStore, accept_user_id: bool) -> Self {
        Self {
            codec,
            store,
            accept_user_id,
            refresher: None,
            cache: None,
        }
    }

    /// Serve recently validated sessions from `cache` (see [`crate::cache`]).
    pub fn with_cache(mut self, cache: Arc<ValidationCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Fetch unknown verification keys through `refresher` (JWKS) before refusing.
    pub fn with_key_refresher(mut self, refresher: Arc<dyn KeyRefresher>) -> Self {
        self.refresher = Some(refresher);
        self
    }

    /// Decodes, refreshing the keys once when the token names an unknown key id.
    async fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        match self.codec.decode(token) {
            Err(TokenError::UnknownKey) => match &self.refresher {
                Some(refresher) if refresher.refresh().await => self.codec.decode(token),
                _ => Err(TokenError::UnknownKey),
            },
            other => other,
        }
    }

    /// Whether seed-mode userId credentials are accepted.
    pub fn accepts_user_id(&self) -> bool {
        self.accept_user_id
    }

    /// The store this validator reads.
    pub fn store(&self) -> &SessionStore {
        &self.store
    }

    /// Validates a credential.
    ///
    /// A bearer token is verified first (so an expired or forged token never reaches
    /// Redis), then accepted only if Redis holds that very token for its user.
    #[tracing::instrument(skip_all)]
    pub async fn validate(&self, credential: &Credential) -> Result<Session, AuthError> {
        match credential {
            Credential::Bearer(token) => {
                let cache = self.cache.as_deref();
                if let Some(cached) = cache.and_then(|c| c.get(token)) {
                    return Ok(session_of(&cached.claims, token.clone(), cached.ends_at));
                }
                let claims = self.decode(token).await?;
                let ticket = cache.map(|c| c.ticket(&claims.sub));
                let held = self
                    .store
                    .held(&claims.sub, &claims.sid)
                    .await
                    .inspect_err(|_| {
                        if let Some(cache) = cache {
                            cache.forget_all();
                        }
                    })?;
                let Some(held) = held else {
                    return Err(AuthError::SessionNotFound);
                };
                // `multiple` mode keeps the token's digest, never the token.
                let matches = match self.store.per_user() {
                    PerUser::Single => constant_time_eq(&held.secret, token),
                    PerUser::Multiple => constant_time_eq(&held.secret, &token_digest(token)),
                };
                if !matches {
                    return Err(AuthError::SessionRevoked);
                }
                let ends_at = held.ends_at.unwrap_or(claims.exp);
                if let (Some(cache), Some(ticket)) = (cache, ticket) {
                    cache.insert(ticket, token, &claims, ends_at);
                }
                Ok(session_from(claims, token.clone(), ends_at))
            }
            Credential::UserId(user_id) => {
                if !self.accept_user_id {
                    return Err(AuthError::InvalidToken);
                }
                let held = self
                    .store
                    .held(user_id, "")
                    .await?
                    .ok_or(AuthError::SessionNotFound)?;
                let claims = self.decode(&held.secret).await?;
                if claims.sub != *user_id {
                    return Err(AuthError::InvalidToken);
                }
                let ends_at = held.ends_at.unwrap_or(claims.exp);
                Ok(session_from(claims, held.secret, ends_at))
            }
        }
    }
}
