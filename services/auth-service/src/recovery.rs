//! Account recovery and email verification: reset and verification tokens in Redis,
//! the mails that carry them, and the answers that tell nobody whether an account
//! exists.
//!
//! **Enumeration.** `/password/forgot` and `/email/verify/resend` do the same work for
//! any address before they answer: the per-IP count in Redis, the address's checks, a
//! place in an in-memory queue. The account lookup, the per-address mail limit, the
//! token and the SMTP conversation happen afterwards in a task of their own, so
//! neither the answer nor its time depends on the account.
//!
//! **Tokens.** 32 random bytes, URL-safe base64 without padding (43 characters). Redis
//! keeps only the token's SHA-256, under `recovery:{<session.key_prefix>}:<kind>:<digest>`
//! (the user id, for the token's lifetime) and `recovery:{...}:<kind>:user:<userId>`
//! (the digest of the user's newest token): only the newest works, once. The keys stay
//! outside `session:*`, which the resource-service's Redis user may read; the braces
//! keep a kind's keys in one Cluster slot, so one script checks and consumes both.

use std::sync::Arc;

use base64::Engine;
use lettre::message::Mailbox;
use mongodb::bson::oid::ObjectId;
use session_core::SessionStore;
use session_core::events::{self, PASSWORD_CHANGED, Reason, USER_EMAIL_VERIFIED};
use session_core::measure::count_by;
use session_core::store::{Change, token_digest};
use tokio::sync::{Semaphore, mpsc};

use crate::account_checks::{AccountError, check_password, normalize_email};
use crate::configuration::{RecoverySettings, Settings};
use crate::mail::{Mail, MailKind, Mailer};
use crate::password::{Passwords, Priority};
use crate::throttle::Throttle;
use crate::users::{User, UserRepository};

/// Length of a token as sent: 32 bytes in unpadded URL-safe base64.
pub const TOKEN_CHARS: usize = 43;

/// Requests waiting for the mail task at most; beyond it a request is dropped (logged).
const QUEUE: usize = 1024;

/// Requests whose account lookup and token run at once; the others wait in the queue.
/// (A mail waiting for its next try holds none.)
const LOOKUPS: usize = 16;

/// Stores a token. KEYS: the token's key, the user's newest-token key. ARGV: user id,
/// digest, seconds.
const ISSUE: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
";

/// Consumes a token when it is still the user's newest. KEYS: the token's key, the
/// user's newest-token key. ARGV: user id, digest. Returns the milliseconds the token
/// had left (consumed) or 0 (not consumed).
const CONSUME: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('GET', KEYS[2]) ~= ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 0
end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then left = 1 end
redis.call('DEL', KEYS[1], KEYS[2])
return left
";

/// Puts a consumed token back (the change it was consumed for failed), unless a newer
/// token was issued meanwhile. KEYS: as CONSUME. ARGV: user id, digest, milliseconds.
const RESTORE: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
";

/// A mail the task is asked for: the kind and the normalised address.
#[derive(Debug)]
struct Request {
    kind: MailKind,
    email: String,
}

/// Reset and verification: the request side (queue, tokens) and the mail task.
#[derive(Clone)]
pub struct Recovery {
    inner: Arc<Inner>,
    queue: mpsc::Sender<Request>,
}

struct Inner {
    users: UserRepository,
    store: SessionStore,
    passwords: Passwords,
    throttle: Throttle,
    mailer: Mailer,
    settings: RecoverySettings,
    public_url: String,
    key_base: String,
    issue: redis::Script,
    consume: redis::Script,
    restore: redis::Script,
}

impl Recovery {
    /// Wires the parts and starts the mail task (on the current runtime).
    pub fn start(
        users: UserRepository,
        store: SessionStore,
        passwords: Passwords,
        throttle: Throttle,
        mailer: Mailer,
        settings: &Settings,
    ) -> Self {
        let key_base = format!("recovery:{{{}}}:", settings.session.key_prefix);
        let public_url = settings.server.public_url.as_deref().unwrap_or_default();
        let inner = Arc::new(Inner {
            users,
            store,
            passwords,
            throttle,
            mailer,
            settings: settings.recovery.clone(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            key_base,
            issue: redis::Script::new(ISSUE),
            consume: redis::Script::new(CONSUME),
            restore: redis::Script::new(RESTORE),
        });
        let (queue, mut requests) = mpsc::channel::<Request>(QUEUE);
        let worker = inner.clone();
        let lookups = Arc::new(Semaphore::new(LOOKUPS));
        tokio::spawn(async move {
            while let Some(request) = requests.recv().await {
                let Ok(permit) = lookups.clone().acquire_owned().await else {
                    return;
                };
                let worker = worker.clone();
                tokio::spawn(async move {
                    let mail = worker.prepare(request).await;
                    drop(permit);
                    if let Some(mail) = mail {
                        worker.mailer.deliver(mail).await;
                    }
                });
            }
        });
        Self { inner, queue }
    }

    /// `POST /password/forgot`: counts the request for `ip` (429 over the limit) and
    /// queues a reset mail for `email`, whatever it is. The caller answers 202.
    #[tracing::instrument(skip_all)]
    pub async fn forgot(&self, email: &str, ip: Option<&str>) -> Result<(), AccountError> {
        self.limit(ip).await?;
        self.enqueue(MailKind::Reset, email);
        Ok(())
    }

    /// `POST /email/verify/resend`: as [`Recovery::forgot`], for a verification mail
    /// (sent only when the account exists and waits for verification).
    #[tracing::instrument(skip_all)]
    pub async fn resend(&self, email: &str, ip: Option<&str>) -> Result<(), AccountError> {
        self.limit(ip).await?;
        self.enqueue(MailKind::Verify, email);
        Ok(())
    }

    /// Sign-up with `signup.verify_email`: queues the new account's verification mail.
    pub fn welcome(&self, email: &str) {
        self.enqueue(MailKind::Verify, email);
    }

    async fn limit(&self, ip: Option<&str>) -> Result<(), AccountError> {
        Ok(self
            .inner
            .throttle
            .recovery(ip, self.inner.settings.max_per_ip_per_hour)
            .await?)
    }

    /// Queues a mail request when `email` is an address a mail can go to: normalised
    /// as everywhere, and a mailbox by itself (no CR, LF, comment or second address).
    /// Anything else is dropped without a word, so the answer is the same.
    fn enqueue(&self, kind: MailKind, email: &str) {
        let Ok(email) = normalize_email(email) else {
            return;
        };
        if email.parse::<lettre::Address>().is_err() {
            return;
        }
        if self.queue.try_send(Request { kind, email }).is_err() {
            tracing::warn!(
                kind = kind.label(),
                "mail queue full; a request was dropped"
            );
        }
    }

    /// `POST /password/reset`: checks the new password like sign-up (a refused one
    /// leaves the token usable), consumes the token if it is the user's newest and
    /// unused, sets the new password, marks the email verified, ends every session of
    /// the user and clears the email's failed logins. Two racing resets with one token
    /// change the password once: only one consumes it.
    #[tracing::instrument(skip_all)]
    pub async fn reset(
        &self,
        token: &str,
        new_password: String,
        ip: Option<&str>,
    ) -> Result<(), AccountError> {
        self.limit(ip).await?;
        check_password(&new_password)?;
        let inner = &self.inner;
        let (user_id, digest) = inner
            .holder(MailKind::Reset, token)
            .await?
            .ok_or(AccountError::InvalidResetToken)?;
        let id = ObjectId::parse_str(&user_id).map_err(|_| AccountError::InvalidResetToken)?;
        let hash = inner
            .passwords
            .hash(new_password, Priority::Interactive)
            .await?;
        let Some(left_ms) = inner.consume(MailKind::Reset, &user_id, &digest).await? else {
            return Err(AccountError::InvalidResetToken);
        };
        // The hash is written before any session ends: a login that checked the old
        // password and opens its session later finds the hash changed and ends it.
        let user = match inner.users.reset_password(id, &hash).await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(AccountError::InvalidResetToken),
            Err(err) => {
                // Nothing changed: the link works again for the user's next try.
                inner
                    .restore(MailKind::Reset, &user_id, &digest, left_ms)
                    .await;
                return Err(err.into());
            }
        };
        // The event follows the write; every session ends whether or not it could be
        // appended (a 503 then says the change stands).
        let event = events::account_event(PASSWORD_CHANGED, &user_id, &[("via", "reset")]);
        let appended = inner.store.append_event(PASSWORD_CHANGED, &event).await;
        let ended = inner
            .store
            .end_all(&user_id, None, Reason::PasswordReset)
            .await?;
        count_by("sessions_ended_total", "reason", "password_reset", ended);
        inner.throttle.clear_failures(&user.email).await;
        tracing::info!(ended, "password reset; every session ended");
        appended?;
        Ok(())
    }

    /// `POST /email/verify`: consumes a verification token and marks the email verified.
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self, token: &str) -> Result<(), AccountError> {
        let inner = &self.inner;
        let (user_id, digest) = inner
            .holder(MailKind::Verify, token)
            .await?
            .ok_or(AccountError::InvalidVerificationToken)?;
        let id =
            ObjectId::parse_str(&user_id).map_err(|_| AccountError::InvalidVerificationToken)?;
        let Some(left_ms) = inner.consume(MailKind::Verify, &user_id, &digest).await? else {
            return Err(AccountError::InvalidVerificationToken);
        };
        match inner.users.mark_verified(id).await {
            Ok(true) => {}
            Ok(false) => return Err(AccountError::InvalidVerificationToken),
            Err(err) => {
                inner
                    .restore(MailKind::Verify, &user_id, &digest, left_ms)
                    .await;
                return Err(err.into());
            }
        }
        tracing::info!("email verified");
        let event = events::account_event(USER_EMAIL_VERIFIED, &user_id, &[]);
        inner
            .store
            .append_event(USER_EMAIL_VERIFIED, &event)
            .await?;
        Ok(())
    }
}

/// True for a string shaped like a token: 43 URL-safe base64 characters.
pub fn is_token(token: &str) -> bool {
    token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new token: 32 random bytes, URL-safe base64 without padding.
fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Inner {
    fn kind_key(&self, kind: MailKind) -> String {
        format!("{}{}:", self.key_base, kind.label())
    }

    fn token_key(&self, kind: MailKind, digest: &str) -> String {
        format!("{}{digest}", self.kind_key(kind))
    }

    fn user_key(&self, kind: MailKind, user_id: &str) -> String {
        format!("{}user:{user_id}", self.kind_key(kind))
    }

    /// The user a token was issued to, and its digest; `None` for a token of the wrong
    /// shape, unknown or expired.
    async fn holder(
        &self,
        kind: MailKind,
        token: &str,
    ) -> Result<Option<(String, String)>, AccountError> {
        if !is_token(token) {
            return Ok(None);
        }
        let digest = token_digest(token);
        let key = self.token_key(kind, &digest);
        let user_id: Option<String> = self
            .store
            .redis()
            .with_connection("recovery", |mut conn| async move {
                redis::cmd("GET").arg(&key).query_async(&mut conn).await
            })
            .await?;
        Ok(user_id.map(|id| (id, digest)))
    }

    /// Consumes the token of `digest` if it is still `user_id`'s newest; the
    /// milliseconds it had left when this call consumed it.
    async fn consume(
        &self,
        kind: MailKind,
        user_id: &str,
        digest: &str,
    ) -> Result<Option<u64>, AccountError> {
        let (token_key, user_key) = (self.token_key(kind, digest), self.user_key(kind, user_id));
        let consumed: i64 = self
            .store
            .redis()
            .script(
                "recovery_consume",
                Change::Nothing,
                self.consume
                    .key(&token_key)
                    .key(&user_key)
                    .arg(user_id)
                    .arg(digest),
            )
            .await?;
        Ok(u64::try_from(consumed).ok().filter(|&ms| ms > 0))
    }

    /// Puts a consumed token back for the time it had left (best effort), unless the
    /// user has a newer one.
    async fn restore(&self, kind: MailKind, user_id: &str, digest: &str, left_ms: u64) {
        let (token_key, user_key) = (self.token_key(kind, digest), self.user_key(kind, user_id));
        let restored: Result<i64, _> = self
            .store
            .redis()
            .script(
                "recovery_restore",
                Change::Nothing,
                self.restore
                    .key(&token_key)
                    .key(&user_key)
                    .arg(user_id)
                    .arg(digest)
                    .arg(left_ms),
            )
            .await;
        if restored.is_err() {
            tracing::warn!(
                kind = kind.label(),
                "a consumed token could not be put back"
            );
        }
    }

    /// Stores a new token for the user (the previous one stops working); the token.
    async fn issue(&self, kind: MailKind, user_id: &str) -> Result<String, AccountError> {
        let token = new_token().map_err(|_| AccountError::Internal)?;
        let digest = token_digest(&token);
        let ttl = self.ttl(kind);
        let (token_key, user_key) = (self.token_key(kind, &digest), self.user_key(kind, user_id));
        let _: i64 = self
            .store
            .redis()
            .script(
                "recovery_issue",
                Change::Nothing,
                self.issue
                    .key(&token_key)
                    .key(&user_key)
                    .arg(user_id)
                    .arg(&digest)
                    .arg(ttl),
            )
            .await?;
        Ok(token)
    }

    fn ttl(&self, kind: MailKind) -> u64 {
        match kind {
            MailKind::Reset => self.settings.token_ttl_seconds,
            MailKind::Verify => self.settings.verify_ttl_seconds,
        }
    }

    fn link(&self, kind: MailKind, token: &str) -> String {
        let page = match kind {
            MailKind::Reset => "reset",
            MailKind::Verify => "welcome",
        };
        format!("{}/{page}#token={token}", self.public_url)
    }

    /// The mail task's work for one request, off the request path: the account, the
    /// per-address limit, the token; the mail to send, if any.
    async fn prepare(&self, request: Request) -> Option<Mail> {
        let kind = request.kind.label();
        let user = match self.users.find_by_email(&request.email).await {
            Ok(user) => user,
            Err(_) => {
                tracing::warn!(
                    kind,
                    "mail request dropped: the users database did not answer"
                );
                return None;
            }
        };
        let Some(user) = user.filter(|u| wants(request.kind, u)) else {
            tracing::debug!(kind, "no mail: no account to send it to");
            return None;
        };
        match self
            .throttle
            .mail(&user.email, self.settings.max_per_email_per_hour)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(kind, "no mail: this address had its mails for the hour");
                return None;
            }
            Err(_) => {
                tracing::warn!(kind, "mail request dropped: Redis did not answer");
                return None;
            }
        }
        let Ok(to) = user.email.parse::<Mailbox>() else {
            tracing::info!(kind, "no mail: the account's address is no mailbox");
            return None;
        };
        let user_id = user.id.to_hex();
        let token = match self.issue(request.kind, &user_id).await {
            Ok(token) => token,
            Err(_) => {
                tracing::warn!(kind, "mail request dropped: the token could not be stored");
                return None;
            }
        };
        Some(Mail {
            kind: request.kind,
            to,
            link: self.link(request.kind, &token),
            valid_for_seconds: self.ttl(request.kind),
        })
    }
}

/// True when `user` is someone a mail of `kind` goes to: any account for a reset, an
/// account waiting for verification for a verification mail.
fn wants(kind: MailKind, user: &User) -> bool {
    match kind {
        MailKind::Reset => true,
        MailKind::Verify => !user.email_verified(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let a = new_token().expect("random");
        let b = new_token().expect("random");
        assert_eq!(a.len(), TOKEN_CHARS);
        assert!(is_token(&a) && is_token(&b));
        assert_ne!(a, b);
        assert!(!is_token(""));
        assert!(!is_token(&"a".repeat(42)));
        assert!(!is_token(&format!("{}=", &a[..42])));
        assert!(!is_token(&format!("{}+", &a[..42])));
    }
}
