//! The auth-service's domain: sign-up, login, logout, session info, introspection.

use std::future::Future;
use std::sync::Arc;

use session_core::events::{self, PASSWORD_CHANGED, Reason, USER_CREATED, USER_DELETED};
use session_core::measure::{count, count_by};
use session_core::session::now_secs;
use session_core::settings::PerUser;
use session_core::store::{NewSession, Opened, SessionRecord};
use session_core::token::Origin;
use session_core::{
    AuthError, Credential, LocalValidator, Session, SessionStore, StoreError, TokenCodec,
};

use crate::password::{HashError, MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES, Passwords, Priority};
use crate::recovery::Recovery;
use crate::throttle::{Throttle, ThrottleError};
use crate::user_sessions::UserSessions;
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
    /// `multiple` mode with `when_full = deny`: the user holds the maximum.
    #[error("too many sessions")]
    TooManySessions,
    /// No such session among the caller's (or no such user).
    #[error("not found")]
    NotFound,
    /// Too many failed logins; retry after this many seconds.
    #[error("too many requests")]
    TooManyRequests(u64),
    /// Session validation refused the request.
    #[error("session refused: {0}")]
    Auth(AuthError),
    /// MongoDB or Redis did not answer in time.
    #[error("a dependency is unavailable")]
    Unavailable,
    /// A reset token that is unknown, used, expired or not the user's newest.
    #[error("invalid reset token")]
    InvalidResetToken,
    /// A verification token that is unknown, used, expired or not the newest.
    #[error("invalid verification token")]
    InvalidVerificationToken,
    /// The right password, but the account's email is not verified yet.
    #[error("email not verified")]
    EmailNotVerified,
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
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy => Self::Unavailable,
            HashError::Failed => Self::Internal,
        }
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

/// Normalises an email (trimmed, NFKC, lowercase) and checks it: at most 254
/// characters, one `@`, a non-empty local part, a dotted domain of non-empty labels;
/// no spaces, control or invisible characters; each part in one script, so that no
/// lookalike of an address (fullwidth forms fold into it under NFKC; Cyrillic
/// homoglyphs mixed into Latin, zero-width and format characters, stray combining
/// marks are refused) becomes an account of its own.
pub fn normalize_email(raw: &str) -> Result<String, AccountError> {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    use unicode_security::{GeneralSecurityProfile, MixedScript};

    let email = raw.trim().nfkc().collect::<String>().to_lowercase();
    if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        return Err(AccountError::InvalidEmail);
    }
    // Outside ASCII, only characters UTS #39 allows in identifiers: no zero-width,
    // format, control or compatibility characters.
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || (!c.is_ascii() && !c.identifier_allowed()))
    {
        return Err(AccountError::InvalidEmail);
    }
    // A combining mark that did not compose with the letter before it (NFKC composes
    // every accent that has a letter of its own) only decorates a lookalike.
    let mut previous = ' ';
    for c in email.chars() {
        if is_combining_mark(c) && previous.is_ascii() {
            return Err(AccountError::InvalidEmail);
        }
        previous = c;
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AccountError::InvalidEmail);
    };
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.is_single_script()
    });
    if local.is_empty()
        || local.len() > 64
        || !local.is_single_script()
        || !domain.contains('.')
        || !labels_ok
    {
        return Err(AccountError::InvalidEmail);
    }
    Ok(email)
}

/// The contract's rule for a new account's email (normalised by [`normalize_email`]):
/// a local part of dot-atom characters (no leading, trailing or doubled dot) or
/// letters of one script, never one of `<>()[]\,;:"`, a backtick or a space; a domain
/// of LDH or IDNA labels. Applied at sign-up only: accounts made before it keep
/// signing in. The identity an email gives (`X-User-Email`) stays user-chosen text.
pub fn check_new_email(email: &str) -> Result<(), AccountError> {
    let Some((local, domain)) = email.split_once('@') else {
        return Err(AccountError::InvalidEmail);
    };
    let local_char = |c: char| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_{|}~.".contains(c)
            || (!c.is_ascii() && c.is_alphanumeric())
    };
    let local_ok = local.chars().all(local_char)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    // `<>()[]\\,;:"`, a backtick and a space are none of these characters, so the
    // two checks below refuse them in either part.
    let domain_ok = domain.chars().all(|c| {
        c == '.' || c == '-' || c.is_ascii_alphanumeric() || (!c.is_ascii() && c.is_alphanumeric())
    });
    if !local_ok || !domain_ok {
        return Err(AccountError::InvalidEmail);
    }
    Ok(())
}

/// A userId from a path: 24 hex characters, lowercased; else `NotFound`.
fn checked_user_id(raw: &str) -> Result<String, AccountError> {
    if session_core::credential::is_user_id(raw) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(AccountError::NotFound)
    }
}

/// The ObjectId of a checked userId.
fn bson_id(user_id: &str) -> Result<mongodb::bson::oid::ObjectId, AccountError> {
    mongodb::bson::oid::ObjectId::parse_str(user_id).map_err(|_| AccountError::NotFound)
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
    /// The session's id.
    pub session_id: String,
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
    sessions: UserSessions,
    seed_mode: bool,
    recovery: Option<Recovery>,
    verify_email: bool,
}

impl Accounts {
    /// Wires the parts together; `seed_mode` (`session.accept_user_id_header`) lets
    /// `/introspect` and `/session` take a bare userId.
    pub fn new(
        users: UserRepository,
        store: SessionStore,
        codec: Arc<TokenCodec>,
        passwords: Passwords,
        throttle: Throttle,
        seed_mode: bool,
    ) -> Self {
        let introspector = LocalValidator::new(codec.clone(), store.clone(), seed_mode);
        let sessions = UserSessions::new(store.clone(), codec.clone());
        Self {
            users,
            store,
            codec,
            passwords,
            throttle,
            introspector,
            sessions,
            seed_mode,
            recovery: None,
            verify_email: false,
        }
    }

    /// With mail on: recovery, and with `verify_email` (`signup.verify_email`) a
    /// verification mail at sign-up and no login before the email is verified.
    pub fn with_recovery(mut self, recovery: Recovery, verify_email: bool) -> Self {
        self.recovery = Some(recovery);
        self.verify_email = verify_email;
        self
    }

    /// Recovery and verification, when mail is on.
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// True when a bare userId is a credential (seed mode).
    pub fn seed_mode(&self) -> bool {
        self.seed_mode
    }

    /// The users repository (for readiness).
    pub fn users(&self) -> &UserRepository {
        &self.users
    }

    /// The session store (for readiness).
    pub fn store(&self) -> &SessionStore {
        &self.store
    }

    /// Registers a user; emails are unique case-insensitively. Throttled per client
    /// IP and for the service; hashed behind logins.
    #[tracing::instrument(skip_all)]
    pub async fn sign_up(
        &self,
        email: &str,
        password: String,
        ip: Option<&str>,
    ) -> Result<User, AccountError> {
        let email = normalize_email(email)?;
        check_new_email(&email)?;
        check_password(&password)?;
        self.throttle.sign_up(ip).await?;
        let hash = self.passwords.hash(password, Priority::Background).await?;
        let user = self.users.insert(&email, hash, !self.verify_email).await?;
        if self.verify_email
            && let Some(recovery) = &self.recovery
        {
            recovery.welcome(&user.email);
        }
        // User ids stay out of info logs: with seed mode they were a credential.
        tracing::info!("user signed up");
        tracing::debug!(user_id = %user.id.to_hex(), "user signed up");
        let event = events::account_event(USER_CREATED, &user.id.to_hex(), &[("email", &email)]);
        self.store.append_event(USER_CREATED, &event).await?;
        Ok(user)
    }

    /// Checks the password and returns the user's session, creating it if none is live.
    #[tracing::instrument(skip_all)]
    pub async fn log_in(
        &self,
        email: &str,
        password: String,
        origin: Origin,
    ) -> Result<LoginOutcome, AccountError> {
        // An address that is no email can belong to no user; it still pays a verify below.
        let email = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
        let find = async { Ok(self.users.find_by_email(&email).await?) };
        let user = self
            .throttled_check(&email, origin.ip.as_deref(), password.clone(), find)
            .await?;
        // Only the right password learns this (a wrong one got 401 above).
        if self.verify_email && !user.email_verified() {
            tracing::info!("login refused: email not verified");
            return Err(AccountError::EmailNotVerified);
        }
        // The hash this login was checked against (renewed at the configured cost
        // when it was of another).
        let mut checked_hash = user.password_hash.clone();
        if self.passwords.needs_rehash(&user.password_hash)
            && let Some(renewed) = self.rehash(&user, password).await
        {
            checked_hash = renewed;
        }
        let user_id = user.id.to_hex();
        let outcome = self.open_session(&user_id, &user.email, origin).await?;
        // The user as it is now that the session is open. Deleted meanwhile: no
        // session for a deleted user (see `delete_user`). Password changed meanwhile:
        // a session opened with the old password must not survive the change, also
        // when this login's check ran before it (see `change_password`).
        match self.users.find_by_id(user.id).await? {
            None => {
                self.store
                    .end_all(&user_id, None, Reason::UserDeleted)
                    .await?;
                return Err(AccountError::InvalidCredentials);
            }
            Some(now) if now.password_hash != checked_hash => {
                if !outcome.reused {
                    let opened = (outcome.session_id.as_str(), outcome.token.as_str());
                    self.store
                        .end(&user_id, opened, Reason::PasswordChanged)
                        .await?;
                }
                tracing::info!("login raced a password change; its session ended");
                return Err(AccountError::InvalidCredentials);
            }
            Some(_) => {}
        }
        tracing::info!(reused = outcome.reused, "login");
        tracing::debug!(user_id = %user_id, "login");
        Ok(outcome)
    }

    /// Checks `password` against the hash of the user `find` yields, as one throttled
    /// attempt for `email` from `ip`; an unknown user still pays one verify against the
    /// dummy hash. A dependency failure gives the attempt back (nothing was decided), a
    /// wrong password counts it, the right one clears the email's count.
    async fn throttled_check(
        &self,
        email: &str,
        ip: Option<&str>,
        password: String,
        find: impl Future<Output = Result<Option<User>, AccountError>>,
    ) -> Result<User, AccountError> {
        let attempt = self.throttle.begin(email, ip).await?;
        let checked = async {
            let user = find.await?;
            let hash = user.as_ref().map(|u| u.password_hash.clone());
            let verified = self.passwords.verify(password, hash).await?;
            Ok::<_, AccountError>(user.filter(|_| verified))
        }
        .await;
        match checked {
            Err(err) => {
                self.throttle.abandon(attempt).await;
                Err(err)
            }
            Ok(None) => {
                tracing::info!("password refused");
                self.throttle.failed(attempt).await?;
                Err(AccountError::InvalidCredentials)
            }
            Ok(Some(user)) => {
                self.throttle.succeeded(attempt).await;
                Ok(user)
            }
        }
    }

    /// Renews the hash at the configured cost; the new hash when it was saved.
    async fn rehash(&self, user: &User, password: String) -> Option<String> {
        match self.passwords.hash(password, Priority::Background).await {
            Ok(hash) => match self.users.update_password_hash(user.id, &hash).await {
                Ok(()) => {
                    tracing::info!("password re-hashed at the configured cost");
                    Some(hash)
                }
                Err(_) => {
                    tracing::warn!("password re-hash not saved; will retry at next login");
                    None
                }
            },
            Err(_) => {
                tracing::warn!("password re-hash failed");
                None
            }
        }
    }

    /// Opens a session: a new one, or in `single` mode the live one; a stored token
    /// that no longer verifies (signed with a retired key) is replaced atomically.
    async fn open_session(
        &self,
        user_id: &str,
        email: &str,
        origin: Origin,
    ) -> Result<LoginOutcome, AccountError> {
        let ttl = self.store.ttl_seconds();
        // `single` mode has no record but the token for where a session came from.
        let in_token = match self.store.per_user() {
            PerUser::Single => origin.clone(),
            PerUser::Multiple => Origin::default(),
        };
        for _ in 0..3 {
            let (token, claims) = self
                .codec
                .issue_from(user_id, email, ttl, in_token.clone())
                .map_err(|_| AccountError::Internal)?;
            let new = NewSession {
                user_id,
                session_id: &claims.sid,
                token: &token,
                created_at: claims.iat,
                absolute_expires_at: claims.exp,
                origin: &origin,
            };
            let fresh = |token: String| LoginOutcome {
                user_id: user_id.to_owned(),
                session_id: claims.sid.clone(),
                token,
                expires_at: self.store.idle_deadline(claims.exp),
                reused: false,
            };
            let existing = match self.store.open(&new).await? {
                Opened::Created { evicted } => {
                    count("sessions_created_total", "", "");
                    if evicted > 0 {
                        count_by("sessions_ended_total", "reason", "evicted", evicted);
                        tracing::info!(evicted, "oldest sessions ended to make room");
                    }
                    return Ok(fresh(token));
                }
                Opened::Full => return Err(AccountError::TooManySessions),
                Opened::Reused { token } => token,
            };
            match self.codec.decode(&existing) {
                Ok(live) => {
                    return Ok(LoginOutcome {
                        user_id: user_id.to_owned(),
                        session_id: live.sid,
                        token: existing,
                        expires_at: self.store.idle_deadline(live.exp),
                        reused: true,
                    });
                }
                Err(_) => {
                    if self.store.replace(user_id, &existing, &token).await? {
                        return Ok(fresh(token));
                    }
                }
            }
        }
        Err(AccountError::Unavailable)
    }

    /// Ends the presented session if Redis still holds it.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %session.user_id))]
    pub async fn log_out(&self, session: &Session) -> Result<(), AccountError> {
        let presented = (session.session_id.as_str(), session.token.as_str());
        if self
            .store
            .end(&session.user_id, presented, Reason::Logout)
            .await?
        {
            count("sessions_ended_total", "reason", "logout");
            tracing::info!("logout");
            Ok(())
        } else {
            Err(AccountError::Auth(AuthError::SessionNotFound))
        }
    }

    /// The user's live sessions, newest first (`single` mode: the one).
    #[tracing::instrument(skip_all)]
    pub async fn sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, AccountError> {
        Ok(self.sessions.list(user_id).await?)
    }

    /// Ends one of the caller's sessions by id; `NotFound` when it is not one of theirs.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller.user_id))]
    pub async fn end_session(
        &self,
        caller: &Session,
        session_id: &str,
    ) -> Result<(), AccountError> {
        if self
            .sessions
            .end(&caller.user_id, session_id, Reason::Revoked)
            .await?
        {
            count("sessions_ended_total", "reason", "revoked");
            tracing::info!("session ended by its owner");
            Ok(())
        } else {
            Err(AccountError::NotFound)
        }
    }

    /// Ends every session of the caller but the presented one.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller.user_id))]
    pub async fn log_out_others(&self, caller: &Session) -> Result<u64, AccountError> {
        let ended = self
            .store
            .end_all(
                &caller.user_id,
                Some(&caller.session_id),
                Reason::LogoutOthers,
            )
            .await?;
        count_by("sessions_ended_total", "reason", "logout_others", ended);
        Ok(ended)
    }

    /// Ends every session of the caller, the presented one too.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller.user_id))]
    pub async fn log_out_all(&self, caller: &Session) -> Result<u64, AccountError> {
        let ended = self
            .store
            .end_all(&caller.user_id, None, Reason::LogoutAll)
            .await?;
        count_by("sessions_ended_total", "reason", "logout_all", ended);
        Ok(ended)
    }

    /// Pushes the presented session's idle deadline forward; the new end.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %session.user_id))]
    pub async fn refresh(&self, session: &Session) -> Result<i64, AccountError> {
        self.store
            .touch(
                &session.user_id,
                &session.session_id,
                &session.token,
                session.absolute_expires_at,
            )
            .await?
            .ok_or(AccountError::Auth(AuthError::SessionNotFound))
    }

    /// Changes the caller's password (throttled like login; the new one obeys the
    /// sign-up rules), ends every other session of theirs and rotates the caller's: the
    /// answer is the caller's session with a new token (same id, same ends); the old
    /// token is refused. The new hash is written before any session ends, so a login
    /// that checked the old password and opens its session later finds the hash
    /// changed and ends it (see `log_in`).
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %caller.user_id))]
    pub async fn change_password(
        &self,
        caller: &Session,
        current: String,
        new: String,
        ip: Option<&str>,
    ) -> Result<LoginOutcome, AccountError> {
        check_password(&new)?;
        let id = mongodb::bson::oid::ObjectId::parse_str(&caller.user_id)
            .map_err(|_| AccountError::Auth(AuthError::InvalidToken))?;
        let user = self
            .users
            .find_by_id(id)
            .await?
            .ok_or(AccountError::Auth(AuthError::SessionNotFound))?;
        let email = user.email.clone();
        let user = self
            .throttled_check(&email, ip, current, async { Ok(Some(user)) })
            .await?;
        let claims = self
            .codec
            .decode(&caller.token)
            .map_err(|_| AccountError::Auth(AuthError::InvalidToken))?;
        let rotated = self
            .codec
            .reissue(&claims)
            .map_err(|_| AccountError::Internal)?;
        let hash = self.passwords.hash(new, Priority::Interactive).await?;
        self.users.update_password_hash(user.id, &hash).await?;
        // The event follows the write; the other sessions end whether or not it could
        // be appended (a 503 then says the change stands).
        let event = events::account_event(PASSWORD_CHANGED, &caller.user_id, &[("via", "change")]);
        let appended = self.store.append_event(PASSWORD_CHANGED, &event).await;
        let ended = self
            .store
            .end_all(
                &caller.user_id,
                Some(&caller.session_id),
                Reason::PasswordChanged,
            )
            .await?;
        count_by("sessions_ended_total", "reason", "password_changed", ended);
        if !self
            .store
            .rotate(&caller.user_id, &caller.session_id, &caller.token, &rotated)
            .await?
        {
            // The caller's own session ended meanwhile (a logout elsewhere).
            return Err(AccountError::Auth(AuthError::SessionNotFound));
        }
        appended?;
        tracing::info!(
            ended,
            "password changed; other sessions ended, this one rotated"
        );
        Ok(LoginOutcome {
            user_id: caller.user_id.clone(),
            session_id: caller.session_id.clone(),
            token: rotated,
            expires_at: caller.expires_at,
            reused: false,
        })
    }

    /// Admin: a user's live sessions.
    pub async fn admin_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, AccountError> {
        self.sessions(&checked_user_id(user_id)?).await
    }

    /// Admin: ends every session of a user.
    #[tracing::instrument(skip_all)]
    pub async fn admin_end_sessions(&self, user_id: &str) -> Result<u64, AccountError> {
        let user_id = checked_user_id(user_id)?;
        let ended = self.store.end_all(&user_id, None, Reason::Admin).await?;
        count_by("sessions_ended_total", "reason", "admin", ended);
        tracing::info!(ended, "sessions ended by an admin");
        Ok(ended)
    }

    /// Admin: deletes a user and ends every session of theirs. Sessions are ended
    /// before the user goes (so a failure leaves a user without sessions, never
    /// sessions without a user) and again after, for a login that raced the deletion;
    /// a login that opens its session later finds the user gone and ends it.
    #[tracing::instrument(skip_all)]
    pub async fn delete_user(&self, user_id: &str) -> Result<(), AccountError> {
        let user_id = checked_user_id(user_id)?;
        let id = bson_id(&user_id)?;
        let ended = self
            .store
            .end_all(&user_id, None, Reason::UserDeleted)
            .await?;
        if !self.users.delete(id).await? {
            count_by("sessions_ended_total", "reason", "user_deleted", ended);
            return Err(AccountError::NotFound);
        }
        let late = self
            .store
            .end_all(&user_id, None, Reason::UserDeleted)
            .await?;
        count_by(
            "sessions_ended_total",
            "reason",
            "user_deleted",
            ended + late,
        );
        tracing::info!(late, "user deleted by an admin; every session ended");
        let event = events::account_event(USER_DELETED, &user_id, &[]);
        self.store.append_event(USER_DELETED, &event).await?;
        Ok(())
    }

    /// Answers whether a token (or, for seed-mode callers, a userId) is a live session.
    #[tracing::instrument(skip_all)]
    pub async fn introspect(&self, credential: &Credential) -> Result<Introspection, AccountError> {
        match self.introspector.validate(credential).await {
            Ok(session) => Ok(Introspection::Active(self.used(session).await?)),
            Err(AuthError::Unavailable) => Err(AccountError::Unavailable),
            Err(_) => Ok(Introspection::Inactive),
        }
    }

    /// Counts a request of the auth-service's as use of `session` (idle timeout): its
    /// idle deadline moves forward; the session with its new end.
    pub async fn used(&self, mut session: Session) -> Result<Session, AccountError> {
        if self.store.idle_seconds() > 0 && !session.token.is_empty() {
            session.expires_at = self.refresh(&session).await?;
        }
        Ok(session)
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
    fn lookalikes_fold_into_the_address_or_are_refused() {
        // Fullwidth letters and compatibility forms fold into the plain address.
        for same in [
            "\u{ff41}\u{ff44}\u{ff41}@example.com",
            "ADA@EXAMPLE.COM",
            "\u{1d41a}da@example.com",
        ] {
            assert_eq!(
                normalize_email(same).as_deref(),
                Ok("ada@example.com"),
                "{same:?}"
            );
        }
        // A decomposed accent composes into the letter with the accent.
        assert_eq!(
            normalize_email("jose\u{301}@example.com").as_deref(),
            Ok("jos\u{e9}@example.com")
        );
        for lookalike in [
            "a\u{200b}da@example.com", // zero-width space
            "ad\u{200d}a@example.com", // zero-width joiner
            "\u{feff}ada@example.com", // byte order mark inside
            "ada\u{2060}@example.com", // word joiner
            "a\u{202e}da@example.com", // right-to-left override
            "\u{430}da@example.com",   // Cyrillic a among Latin letters
            "ad\u{3b1}@example.com",   // Greek alpha among Latin letters
            "ada@ex\u{430}mple.com",   // Cyrillic a in the domain
            "a\u{338}da@example.com",  // combining overlay on a Latin letter
            "ada\u{34f}@example.com",  // combining grapheme joiner
            "ada\u{7}@example.com",    // control character
        ] {
            assert_eq!(
                normalize_email(lookalike),
                Err(AccountError::InvalidEmail),
                "{lookalike:?}"
            );
        }
        // Addresses in one script other than Latin are fine.
        assert!(normalize_email("\u{43c}\u{430}\u{448}\u{430}@example.com").is_ok());
        assert!(normalize_email("first.last+tag@example.com").is_ok());
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
