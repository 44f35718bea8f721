//! Validation: a credential in, a [`Session`] or the contract's error out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::cache::ValidationCache;
use crate::credential::{Credential, constant_time_eq};
use crate::error::AuthError;
use crate::session::Session;
use crate::store::{SessionStore, StoreError};
use crate::token::{Claims, TokenCodec, TokenError};

impl From<StoreError> for AuthError {
    fn from(_: StoreError) -> Self {
        AuthError::Unavailable
    }
}

impl From<TokenError> for AuthError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Expired => AuthError::SessionExpired,
            TokenError::Invalid | TokenError::UnknownKey | TokenError::Signing => {
                AuthError::InvalidToken
            }
        }
    }
}

fn session_from(claims: Claims, token: String) -> Session {
    Session {
        token,
        user_id: claims.sub,
        email: claims.email,
        issued_at: claims.iat,
        expires_at: claims.exp,
    }
}

/// Something that can fetch verification keys the codec does not hold yet (the
/// auth-service's JWKS), when a token names an unknown key id.
pub trait KeyRefresher: Send + Sync + std::fmt::Debug {
    /// Fetches keys into the codec if allowed now; true when new keys may have arrived.
    fn refresh(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
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
                if let Some(claims) = cache.and_then(|c| c.get(token)) {
                    return Ok(session_from(Claims::clone(&claims), token.clone()));
                }
                let claims = self.decode(token).await?;
                let generation = cache.map(ValidationCache::generation);
                let stored = self.store.get(&claims.sub).await.inspect_err(|_| {
                    if let Some(cache) = cache {
                        cache.forget_all();
                    }
                })?;
                match stored {
                    None => Err(AuthError::SessionNotFound),
                    Some(stored) if constant_time_eq(&stored, token) => {
                        if let (Some(cache), Some(generation)) = (cache, generation) {
                            cache.insert(generation, &stored, &claims);
                        }
                        Ok(session_from(claims, stored))
                    }
                    Some(_) => Err(AuthError::SessionRevoked),
                }
            }
            Credential::UserId(user_id) => {
                if !self.accept_user_id {
                    return Err(AuthError::InvalidToken);
                }
                let stored = self
                    .store
                    .get(user_id)
                    .await?
                    .ok_or(AuthError::SessionNotFound)?;
                let claims = self.decode(&stored).await?;
                if claims.sub != *user_id {
                    return Err(AuthError::InvalidToken);
                }
                Ok(session_from(claims, stored))
            }
        }
    }
}

/// How a service validates sessions: locally against Redis, or by asking the auth-service.
#[derive(Debug, Clone)]
pub enum SessionValidator {
    /// Straight against Redis.
    Local(LocalValidator),
    /// Through the auth-service's `/introspect`.
    #[cfg(feature = "remote")]
    Remote(crate::remote::IntrospectionClient),
}

impl SessionValidator {
    /// Whether seed-mode userId credentials are accepted.
    pub fn accepts_user_id(&self) -> bool {
        match self {
            Self::Local(v) => v.accepts_user_id(),
            #[cfg(feature = "remote")]
            Self::Remote(v) => v.accepts_user_id(),
        }
    }

    /// Validates a credential; see [`LocalValidator::validate`]. `request_id` is
    /// forwarded on the introspection call in remote mode.
    pub async fn validate(
        &self,
        credential: &Credential,
        request_id: Option<&str>,
    ) -> Result<Session, AuthError> {
        match self {
            Self::Local(v) => {
                let _ = request_id;
                v.validate(credential).await
            }
            #[cfg(feature = "remote")]
            Self::Remote(v) => v.validate(credential, request_id).await,
        }
    }
}
