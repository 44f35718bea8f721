//! Validation through the auth-service's `POST /introspect` over HTTP.

use secrecy::{ExposeSecret, SecretString};

use crate::credential::Credential;
use crate::error::AuthError;
use crate::introspection::{IntrospectRequest, IntrospectResponse, Introspected};
use crate::session::Session;
use crate::settings::SettingsError;

/// One pooled HTTP client that asks the auth-service about sessions.
#[derive(Clone)]
pub struct IntrospectionClient {
    client: reqwest::Client,
    url: String,
    live_url: String,
    internal_token: SecretString,
    accept_user_id: bool,
    idle_timeout_seconds: u64,
    context: Option<super::Context>,
}

impl std::fmt::Debug for IntrospectionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionClient")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl IntrospectionClient {
    /// A client for the auth-service at `base_url`, reached as `options` say.
    pub fn new(
        base_url: &str,
        internal_token: SecretString,
        options: &super::ClientOptions,
        accept_user_id: bool,
    ) -> Result<Self, SettingsError> {
        let base = base_url.trim_end_matches('/');
        Ok(Self {
            client: super::http_client(options)?,
            url: format!("{base}/introspect"),
            live_url: format!("{base}/health/live"),
            internal_token,
            accept_user_id,
            idle_timeout_seconds: 0,
            context: options.context,
        })
    }

    /// `session.idle_timeout_seconds`: introspection counts as use, so a live session's
    /// idle deadline is now + this (never past `exp`), which `/introspect` itself does
    /// not carry.
    pub fn with_idle_timeout(mut self, seconds: u64) -> Self {
        self.idle_timeout_seconds = seconds;
        self
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
    pub async fn validate(&self, credential: &Credential) -> Result<Session, AuthError> {
        let token = match credential {
            Credential::Bearer(token) => token.clone(),
            Credential::UserId(_) if self.accept_user_id => String::new(),
            Credential::UserId(_) => return Err(AuthError::InvalidToken),
        };
        let mut request = self
            .client
            .post(&self.url)
            .bearer_auth(self.internal_token.expose_secret())
            .json(&IntrospectRequest::from(credential));
        if let Some(context) = self.context {
            request = context(request);
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
        match answer.into_session(token) {
            Introspected::Active(mut session) => {
                if self.idle_timeout_seconds > 0 {
                    let idle = i64::try_from(self.idle_timeout_seconds).unwrap_or(i64::MAX);
                    let deadline = crate::session::now_secs().saturating_add(idle);
                    session.expires_at = deadline.min(session.absolute_expires_at);
                }
                Ok(session)
            }
            Introspected::Inactive => Err(AuthError::SessionNotFound),
            Introspected::Incomplete => {
                tracing::warn!("introspection answer lacks fields");
                Err(AuthError::Unavailable)
            }
        }
    }
}
