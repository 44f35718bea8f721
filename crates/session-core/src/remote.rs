//! Validation through the auth-service's `POST /introspect` over HTTP.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::credential::Credential;
use crate::error::AuthError;
use crate::http::REQUEST_ID;
use crate::introspection::{IntrospectRequest, IntrospectResponse};
use crate::session::Session;

/// A pooled HTTP client whose every call, connecting included, is bounded by `timeout`.
fn http_client(timeout: Duration) -> Result<reqwest::Client, crate::settings::SettingsError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|_| {
            crate::settings::SettingsError::Invalid("the HTTP client could not be built".into())
        })
}

/// One pooled HTTP client that asks the auth-service about sessions.
#[derive(Clone)]
pub struct IntrospectionClient {
    client: reqwest::Client,
    url: String,
    live_url: String,
    internal_token: SecretString,
    accept_user_id: bool,
}

impl std::fmt::Debug for IntrospectionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl IntrospectionClient {
    /// A client for the auth-service at `base_url`; every call is bounded by `timeout`.
    pub fn new(
        base_url: &str,
        internal_token: SecretString,
        timeout: Duration,
        accept_user_id: bool,
    ) -> Result<Self, crate::settings::SettingsError> {
        let client = http_client(timeout)?;
        Ok(Self {
            client,
            url: format!("{}/introspect", base_url.trim_end_matches('/')),
            live_url: format!("{}/health/live", base_url.trim_end_matches('/')),
            internal_token,
            accept_user_id,
        })
    }

    /// Answers when the auth-service answers its liveness check in time.
    pub async fn ping(&self) -> Result<(), AuthError> {
        match self.client.get(&self.live_url).send().await {
            Ok(res) if res.status().is_success() => Ok(()),
            _ => Err(AuthError::Unavailable),
        }
    }

    /// Whether seed-mode userId credentials are accepted.
    pub fn accepts_user_id(&self) -> bool {
        self.accept_user_id
    }

    /// Asks the auth-service whether the credential is a live session.
    ///
    /// The auth-service down, slow or answering oddly is `Unavailable` (503), never
    /// a 401 that would log the user out.
    #[tracing::instrument(skip_all)]
    pub async fn validate(
        &self,
        credential: &Credential,
        request_id: Option<&str>,
    ) -> Result<Session, AuthError> {
        let (body, token) = match credential {
            Credential::Bearer(token) => (
                IntrospectRequest {
                    token: Some(token.clone()),
                    user_id: None,
                },
                token.clone(),
            ),
            Credential::UserId(user_id) => {
                if !self.accept_user_id {
                    return Err(AuthError::InvalidToken);
                }
                (
                    IntrospectRequest {
                        token: None,
                        user_id: Some(user_id.clone()),
                    },
                    String::new(),
                )
            }
        };
        let mut request = self
            .client
            .post(&self.url)
            .bearer_auth(self.internal_token.expose_secret())
            .json(&body);
        if let Some(id) = request_id {
            request = request.header(REQUEST_ID.as_str(), id);
        }
        let response = request.send().await.map_err(|err| {
            tracing::warn!(
                timeout = err.is_timeout(),
                connect = err.is_connect(),
                "introspection call failed"
            );
            AuthError::Unavailable
        })?;
        let status = response.status();
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), "introspection refused");
            return Err(AuthError::Unavailable);
        }
        let answer: IntrospectResponse = response.json().await.map_err(|_| {
            tracing::warn!("introspection answer is not the contract's JSON");
            AuthError::Unavailable
        })?;
        match answer {
            IntrospectResponse {
                active: true,
                user_id: Some(user_id),
                email: Some(email),
                iat: Some(issued_at),
                exp: Some(expires_at),
            } => Ok(Session {
                user_id,
                email,
                issued_at,
                expires_at,
                token,
            }),
            IntrospectResponse { active: false, .. } => Err(AuthError::SessionNotFound),
            _ => {
                tracing::warn!("introspection answer lacks fields");
                Err(AuthError::Unavailable)
            }
        }
    }
}

/// Fetches the auth-service's public keys (`/.well-known/jwks.json`) into a codec:
/// once at start, and again when a token names an unknown key id, at most once per
/// `min_interval` (30 s) after a successful fetch and once a second after a failed one.
#[derive(Debug)]
pub struct JwksFetcher {
    client: reqwest::Client,
    url: String,
    codec: std::sync::Arc<crate::token::TokenCodec>,
    min_interval: Duration,
    last: tokio::sync::Mutex<Option<(std::time::Instant, bool)>>,
}

impl JwksFetcher {
    /// A fetcher for `url` feeding `codec`.
    pub fn new(
        url: &str,
        codec: std::sync::Arc<crate::token::TokenCodec>,
        timeout: Duration,
        min_interval: Duration,
    ) -> Result<Self, crate::settings::SettingsError> {
        let client = http_client(timeout)?;
        Ok(Self {
            client,
            url: url.to_owned(),
            codec,
            min_interval,
            last: tokio::sync::Mutex::new(None),
        })
    }

    /// Fetches now, whatever the interval; true on success.
    pub async fn fetch(&self) -> bool {
        let fetched = async {
            let res = self.client.get(&self.url).send().await.ok()?;
            if !res.status().is_success() {
                return None;
            }
            res.json::<crate::keys::Jwks>().await.ok()
        }
        .await;
        match fetched {
            Some(jwks) => {
                let added = self.codec.add_jwks(&jwks);
                tracing::info!(keys = added, "verification keys fetched from the JWKS");
                true
            }
            None => {
                tracing::warn!("the JWKS could not be fetched");
                false
            }
        }
    }
}

impl crate::validate::KeyRefresher for JwksFetcher {
    fn refresh(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            // One refresh at a time; callers waiting behind it reuse its result.
            let mut last = self.last.lock().await;
            if let Some((at, ok)) = *last {
                let wait = if ok {
                    self.min_interval
                } else {
                    Duration::from_secs(1)
                };
                if at.elapsed() < wait {
                    // Too soon to fetch again; if the last fetch worked, its keys are
                    // in the codec and worth one more look.
                    return ok;
                }
            }
            let ok = self.fetch().await;
            *last = Some((std::time::Instant::now(), ok));
            ok
        })
    }
}
