//! The auth-service's domain: sign-up, login, logout, session info, introspection.

use std::sync::Arc;

use session_core::session::now_secs;
use session_core::{
    AuthError, Credential, LocalValidator, Session, SessionStore, StoreError, TokenCodec,
};

use crate::password::{HashError, MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES, Passwords};
use crate::throttle::{Throttle, ThrottleError};
use crate::users::{User, UserError, UserRepository};

/// Longest email accepted, in characters (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Why an account operation failed, in the contract's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The email is not acceptable.
    #[error("invalid email")]
    InvalidEmail,
    /// The password is shorter than 8 or longer than 72 bytes.
    #[error("weak password")]
    WeakPassword,
    /// The email is registered already.
    #[error("email taken")]
    EmailTaken,
    /// Unknown email or wrong password (never told apart).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed logins; retry after this many seconds.
    #[error("too many requests")]
    TooManyRequests(u64),
    /// Session validation refused the request.
    #[error("session refused: {0}")]
    Auth(AuthError),
    /// MongoDB or Redis did not answer in time.
    #[error("a dependency is unavailable")]
    Unavailable,
    /// Anything else (hashing or signing failed).
    #[error("internal error")]
    Internal,
}

impl From<UserError> for AccountError {
    fn from(err: UserError) -> Self {
        match err {
            UserError::EmailTaken => Self::EmailTaken,
            UserError::Unavailable => Self::Unavailable,
        }
    }
}

impl From<StoreError> for AccountError {
    fn from(_: StoreError) -> Self {
        Self::Unavailable
    }
}

impl From<HashError> for AccountError {
    fn from(_: HashError) -> Self {
        Self::Internal
    }
}

impl From<AuthError> for AccountError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unavailable => Self::Unavailable,
            other => Self::Auth(other),
        }
    }
}

impl From<ThrottleError> for AccountError {
    fn from(err: ThrottleError) -> Self {
        match err {
            ThrottleError::Throttled(secs) => Self::TooManyRequests(secs),
            ThrottleError::Unavailable => Self::Unavailable,
        }
    }
}

/// Trims and lowercases an email and checks its shape: at most 254 characters, one
/// `@`, a non-empty local part, a dotted domain of non-empty labels, no spaces or
/// control characters.
pub fn normalize_email(raw: &str) -> Result<String, AccountError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        return Err(AccountError::InvalidEmail);
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AccountError::InvalidEmail);
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AccountError::InvalidEmail);
    };
    let labels_ok = domain
        .split('.')
        .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
    if local.is_empty() || local.len() > 64 || !domain.contains('.') || !labels_ok {
        return Err(AccountError::InvalidEmail);
    }
    Ok(email)
}

/// Checks a sign-up password's length in bytes (8 to 72).
pub fn check_password(password: &str) -> Result<(), AccountError> {
    if (MIN_PASSWORD_BYTES..=MAX_PASSWORD_BYTES).contains(&password.len()) {
        Ok(())
    } else {
        Err(AccountError::WeakPassword)
    }
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The user's id.
    pub user_id: String,
    /// The session token.
    pub token: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: i64,
    /// True when the existing session was returned.
    pub reused: bool,
}

/// An introspection answer.
#[derive(Debug, Clone)]
pub enum Introspection {
    /// The session is live.
    Active(Session),
    /// The token is not a live session.
    Inactive,
}

/// Users, passwords, sessions and throttling, together.
#[derive(Clone)]
pub struct Accounts {
    users: UserRepository,
    store: SessionStore,
    codec: Arc<TokenCodec>,
    passwords: Passwords,
    throttle: Throttle,
    introspector: LocalValidator,
}

impl Accounts {
    /// Wires the parts together.
    pub fn new(
        users: UserRepository,
        store: SessionStore,
        codec: Arc<TokenCodec>,
        passwords: Passwords,
        throttle: Throttle,
    ) -> Self {
        let introspector = LocalValidator::new(codec.clone(), store.clone(), true);
        Self {
            users,
            store,
            codec,
            passwords,
            throttle,
            introspector,
        }
    }

    /// The users repository (for readiness).
    pub fn users(&self) -> &UserRepository {
        &self.users
    }

    /// The session store (for readiness).
    pub fn store(&self) -> &SessionStore {
        &self.store
    }

    /// Registers a user; emails are unique case-insensitively.
    #[tracing::instrument(skip_all)]
    pub async fn sign_up(&self, email: &str, password: String) -> Result<User, AccountError> {
        let email = normalize_email(email)?;
        check_password(&password)?;
        let hash = self.passwords.hash(password).await?;
        let user = self.users.insert(&email, hash).await?;
        tracing::info!(user_id = %user.id.to_hex(), "user signed up");
        Ok(user)
    }

    /// Checks the password and returns the user's session, creating it if none is live.
    #[tracing::instrument(skip_all)]
    pub async fn log_in(
        &self,
        email: &str,
        password: String,
        client_ip: Option<&str>,
    ) -> Result<LoginOutcome, AccountError> {
        // An address that is no email can belong to no user; it still pays a verify below.
        let email = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
        let attempt = self.throttle.begin(&email, client_ip).await?;
        let checked = self.check_password(&email, password.clone()).await;
        let (user, verified) = match checked {
            Ok(checked) => checked,
            Err(err) => {
                // Nothing was decided: the attempt counts for neither the email nor the IP.
                self.throttle.abandon(attempt).await;
                return Err(err);
            }
        };
        let Some(user) = user.filter(|_| verified) else {
            tracing::info!("login refused");
            self.throttle.failed(attempt).await?;
            return Err(AccountError::InvalidCredentials);
        };
        self.throttle.succeeded(attempt).await;
        if self.passwords.needs_rehash(&user.password_hash) {
            self.rehash(&user, password).await;
        }
        let user_id = user.id.to_hex();
        let outcome = self.open_session(&user_id, &user.email).await?;
        tracing::info!(user_id = %user_id, reused = outcome.reused, "login");
        Ok(outcome)
    }

    /// The user with this email, if any, and whether the password is theirs (an
    /// unknown email still pays one verify against the dummy hash).
    async fn check_password(
        &self,
        email: &str,
        password: String,
    ) -> Result<(Option<User>, bool), AccountError> {
        let user = self.users.find_by_email(email).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let verified = self.passwords.verify(password, hash).await?;
        Ok((user, verified))
    }

    async fn rehash(&self, user: &User, password: String) {
        match self.passwords.hash(password).await {
            Ok(hash) => match self.users.update_password_hash(user.id, &hash).await {
                Ok(()) => {
                    tracing::info!(user_id = %user.id.to_hex(), "password re-hashed at the configured cost")
                }
                Err(_) => tracing::warn!("password re-hash not saved; will retry at next login"),
            },
            Err(_) => tracing::warn!("password re-hash failed"),
        }
    }

    /// Creates the session or returns the live one; a stored token that no longer
    /// verifies (signed with a retired key) is replaced atomically.
    async fn open_session(&self, user_id: &str, email: &str) -> Result<LoginOutcome, AccountError> {
        let ttl = self.store.ttl_seconds();
        for _ in 0..3 {
            let (token, claims) = self
                .codec
                .issue(user_id, email, ttl)
                .map_err(|_| AccountError::Internal)?;
            let stored = self.store.create_or_reuse(user_id, &token).await?;
            if !stored.reused {
                return Ok(LoginOutcome {
                    user_id: user_id.to_owned(),
                    token,
                    expires_at: claims.exp,
                    reused: false,
                });
            }
            match self.codec.decode(&stored.token) {
                Ok(existing) => {
                    return Ok(LoginOutcome {
                        user_id: user_id.to_owned(),
                        token: stored.token,
                        expires_at: existing.exp,
                        reused: true,
                    });
                }
                Err(_) => {
                    if self.store.replace(user_id, &stored.token, &token).await? {
                        return Ok(LoginOutcome {
                            user_id: user_id.to_owned(),
                            token,
                            expires_at: claims.exp,
                            reused: false,
                        });
                    }
                }
            }
        }
        Err(AccountError::Unavailable)
    }

    /// Ends the session if Redis still holds its token.
    #[tracing::instrument(skip_all, fields(user_id = %session.user_id))]
    pub async fn log_out(&self, session: &Session) -> Result<(), AccountError> {
        if self.store.revoke(&session.user_id, &session.token).await? {
            tracing::info!("logout");
            Ok(())
        } else {
            Err(AccountError::Auth(AuthError::SessionNotFound))
        }
    }

    /// Answers whether a token (or, for seed-mode callers, a userId) is a live session.
    #[tracing::instrument(skip_all)]
    pub async fn introspect(&self, credential: &Credential) -> Result<Introspection, AccountError> {
        match self.introspector.validate(credential).await {
            Ok(session) => Ok(Introspection::Active(session)),
            Err(AuthError::Unavailable) => Err(AccountError::Unavailable),
            Err(_) => Ok(Introspection::Inactive),
        }
    }

    /// Seconds left before `expires_at`, never negative.
    pub fn seconds_left(expires_at: i64) -> i64 {
        (expires_at - now_secs()).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").as_deref(),
            Ok("ada@example.com")
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a@b@example.com",
            "ada @example.com",
            "ada@exa mple.com",
            "ada@.example.com",
            "ada@example..com",
            "ada@-example.com",
        ] {
            assert_eq!(
                normalize_email(bad),
                Err(AccountError::InvalidEmail),
                "{bad:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(normalize_email(&long), Err(AccountError::InvalidEmail));
    }

    #[test]
    fn passwords_are_8_to_72_bytes() {
        assert_eq!(check_password("1234567"), Err(AccountError::WeakPassword));
        assert_eq!(check_password("12345678"), Ok(()));
        assert_eq!(check_password(&"a".repeat(72)), Ok(()));
        assert_eq!(
            check_password(&"a".repeat(73)),
            Err(AccountError::WeakPassword)
        );
        // 24 three-byte characters are 72 bytes; one more is too long.
        assert_eq!(check_password(&"€".repeat(24)), Ok(()));
        assert_eq!(
            check_password(&"€".repeat(25)),
            Err(AccountError::WeakPassword)
        );
    }
}
