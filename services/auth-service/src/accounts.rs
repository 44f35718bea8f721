//! The auth-service's domain: sign-up, login, logout, session info, introspection.

use std::future::Future;
use std::sync::Arc;

use session_core::events::{self, PASSWORD_CHANGED, Reason, USER_CREATED, USER_DELETED};
use session_core::measure::{count, count_by};
use session_core::session::now_secs;
use session_core::settings::PerUser;
use session_core::store::{NewSession, Opened, SessionRecord};
use session_core::token::Origin;
use session_core::{AuthError, Credential, LocalValidator, Session, SessionStore, TokenCodec};

pub use crate::account_checks::{
    AccountError, MAX_EMAIL_CHARS, check_new_email, check_password, normalize_email,
};
use crate::password::{Passwords, Priority};
use crate::recovery::Recovery;
use crate::throttle::Throttle;
use crate::user_sessions::UserSessions;
use crate::users::{User, UserRepository};

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
