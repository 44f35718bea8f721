//! Outgoing mail over SMTP: the reset and verification mails, built with a plain-text
//! and an HTML part, sent off the request path and tried again on failure.
//!
//! A mail is tried up to `mail.max_attempts` times; the wait before the second try is
//! `mail.retry_initial_ms` and doubles before each next one (40 s, 80 s, 160 s, 320 s by
//! default: about ten minutes). What waits is kept in memory only: a restart loses it.
//! Every try is counted in `mails_sent_total{kind,outcome}`: `sent`, `retried` (a
//! failed try that will be made again) or `failed` (the last try failed).
//!
//! Nothing here logs an address, a link or the SMTP URL (which may carry a password).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Outgoing mail: where it goes, who it is from, how hard it is tried.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct MailSettings {
    /// `smtp://host:port` (plain), `smtps://host:port` or `smtp://host:port?tls=required`,
    /// with `user:password@` for SMTP AUTH; unset, recovery and verification are off.
    #[serde(default, serialize_with = "session_core::masked::optional_secret_url")]
    pub smtp_url: Option<SecretString>,
    /// The `From` address.
    pub from: String,
    /// Tries per mail before it is dropped (counted `failed`).
    pub max_attempts: u32,
    /// The wait before the second try, in milliseconds; doubled before each next one.
    pub retry_initial_ms: u64,
    /// Upper bound of one SMTP conversation, in milliseconds.
    pub timeout_ms: u64,
}

/// What a mail is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// A password reset link (`/reset#token=...`).
    Reset,
    /// An email verification link (`/welcome#token=...`).
    Verify,
}

impl MailKind {
    /// The `kind` label of `mails_sent_total`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Verify => "verify",
        }
    }
}

/// One mail to send: its kind, its recipient and the link it carries.
#[derive(Debug, Clone)]
pub struct Mail {
    /// What it is for.
    pub kind: MailKind,
    /// The recipient (an address that parsed as a mailbox, so no header can be smuggled in).
    pub to: Mailbox,
    /// The link to follow (a secret: it carries the token).
    pub link: String,
    /// How long the link works, in seconds.
    pub valid_for_seconds: u64,
}

/// The SMTP transport for `url`, each conversation bounded by `timeout_ms`.
pub fn transport(
    url: &str,
    timeout_ms: u64,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
        .timeout(Some(Duration::from_millis(timeout_ms.max(1))))
        .build())
}

/// Sends mails through one SMTP server, with retries.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    max_attempts: u32,
    retry_initial: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the SMTP credentials: never shown.
        f.debug_struct("Mailer")
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// Why a mailer could not be built (the settings' check names the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MailerError {
    /// `mail.smtp_url` is not an SMTP URL.
    #[error("mail.smtp_url is not an smtp:// or smtps:// URL")]
    SmtpUrl,
    /// `mail.from` is not an address.
    #[error("mail.from is not an email address")]
    From,
}

impl Mailer {
    /// The mailer of these settings; `None` when `mail.smtp_url` is unset (mail off).
    pub fn from_settings(settings: &MailSettings) -> Result<Option<Self>, MailerError> {
        let Some(url) = &settings.smtp_url else {
            return Ok(None);
        };
        let transport = transport(url.expose_secret(), settings.timeout_ms)
            .map_err(|_| MailerError::SmtpUrl)?;
        let from = settings.from.parse().map_err(|_| MailerError::From)?;
        Ok(Some(Self {
            transport,
            from,
            max_attempts: settings.max_attempts.max(1),
            retry_initial: Duration::from_millis(settings.retry_initial_ms),
        }))
    }

    /// Sends `mail`, trying again after each failure until `mail.max_attempts`; true
    /// when it went out. Meant to run in a task of its own.
    pub async fn deliver(&self, mail: Mail) -> bool {
        let kind = mail.kind.label();
        let message = match self.message(&mail) {
            Ok(message) => message,
            Err(_) => {
                tracing::warn!(kind, "mail could not be built; dropped");
                count(kind, "failed");
                return false;
            }
        };
        let mut wait = self.retry_initial;
        for attempt in 1..=self.max_attempts {
            match self.transport.send(message.clone()).await {
                Ok(_) => {
                    tracing::info!(kind, attempt, "mail sent");
                    count(kind, "sent");
                    return true;
                }
                Err(err) if attempt < self.max_attempts && !err.is_permanent() => {
                    tracing::warn!(
                        kind,
                        attempt,
                        reason = reason(&err),
                        retry_in_ms = wait.as_millis() as u64,
                        "mail not sent; will try again"
                    );
                    count(kind, "retried");
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                Err(err) => {
                    tracing::warn!(
                        kind,
                        attempt,
                        reason = reason(&err),
                        "mail not sent; dropped"
                    );
                    count(kind, "failed");
                    return false;
                }
            }
        }
        false
    }

    /// The message: a plain-text and an HTML part with the link and when it stops
    /// working; no other personal data.
    pub fn message(&self, mail: &Mail) -> Result<Message, lettre::error::Error> {
        let (subject, text, html) = body(mail);
        // A Message-ID in the sender's domain (many receivers distrust mail without one).
        let message_id = format!(
            "<{}@{}>",
            uuid::Uuid::new_v4().simple(),
            self.from.email.domain()
        );
        Message::builder()
            .message_id(Some(message_id))
            .from(self.from.clone())
            .to(mail.to.clone())
            .subject(subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
    }
}

fn count(kind: &'static str, outcome: &'static str) {
    metrics::counter!("mails_sent_total", "kind" => kind, "outcome" => outcome).increment(1);
}

/// A failure's kind in words, for logs (the server's reply may quote an address).
fn reason(err: &lettre::transport::smtp::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_transient() {
        "transient reply"
    } else if err.is_permanent() {
        "permanent reply"
    } else if err.is_tls() {
        "tls"
    } else {
        "connection"
    }
}

/// "30 minutes", "24 hours", "90 seconds".
fn duration_text(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if seconds.is_multiple_of(3600) && seconds >= 3600 {
        plural(seconds / 3600, "hour")
    } else if seconds.is_multiple_of(60) && seconds >= 60 {
        plural(seconds / 60, "minute")
    } else {
        plural(seconds, "second")
    }
}

/// Subject, plain text and HTML of a mail.
fn body(mail: &Mail) -> (&'static str, String, String) {
    let until = chrono::Utc::now()
        + chrono::Duration::seconds(i64::try_from(mail.valid_for_seconds).unwrap_or(i64::MAX / 2));
    let until = until.format("%Y-%m-%d %H:%M UTC").to_string();
    let within = duration_text(mail.valid_for_seconds);
    let (subject, intro, action, outro) = match mail.kind {
        MailKind::Reset => (
            "Reset your password",
            "Someone, hopefully you, asked to reset the password of the session-store account for this address.",
            "Choose a new password",
            "If you did not ask for this, ignore this mail: your password stays as it is. Changing it signs you out everywhere.",
        ),
        MailKind::Verify => (
            "Confirm your email address",
            "Someone, hopefully you, created a session-store account with this address.",
            "Confirm your email address",
            "If this was not you, ignore this mail: the account cannot be used until the address is confirmed.",
        ),
    };
    let text = format!(
        "{intro}\n\n{action}:\n{link}\n\nThe link works once, for {within} (until {until}).\n\n{outro}\n",
        link = mail.link,
    );
    let link = html_escape(&mail.link);
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{subject}</title></head>\n<body>\n<p>{intro}</p>\n<p><a href=\"{link}\">{action}</a></p>\n<p>The link works once, for {within} (until {until}). If the link does not open, copy this address into your browser:<br>{link}</p>\n<p>{outro}</p>\n</body></html>\n"
    );
    (subject, text, html)
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_has_both_parts_the_link_and_its_end_and_no_address_in_the_body() {
        let settings = MailSettings {
            smtp_url: Some(secrecy::SecretString::from(
                "smtp://u:pw@127.0.0.1:2525".to_owned(),
            )),
            from: "no-reply@localhost".into(),
            max_attempts: 5,
            retry_initial_ms: 10,
            timeout_ms: 1000,
        };
        let mailer = Mailer::from_settings(&settings)
            .expect("valid settings")
            .expect("mail on");
        assert!(!format!("{mailer:?}").contains("pw"));
        let mail = Mail {
            kind: MailKind::Reset,
            to: "ada@example.com".parse().expect("a mailbox"),
            link: "http://127.0.0.1:8080/reset#token=abc".into(),
            valid_for_seconds: 1800,
        };
        let raw =
            String::from_utf8(mailer.message(&mail).expect("built").formatted()).expect("utf-8");
        assert!(
            raw.contains("text/plain") && raw.contains("text/html"),
            "{raw}"
        );
        assert!(raw.contains("30 minutes"), "{raw}");
        assert!(
            raw.contains("Message-ID: <") && raw.contains("@localhost>"),
            "{raw}"
        );
        // Quoted-printable: `=` is written `=3D`.
        assert!(raw.contains("/reset#token=3Dabc"), "{raw}");
        let body = &raw[raw.find("\r\n\r\n").expect("a body")..];
        assert!(!body.contains("ada@example.com"), "{body}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(1800), "30 minutes");
        assert_eq!(duration_text(86400), "24 hours");
        assert_eq!(duration_text(3600), "1 hour");
        assert_eq!(duration_text(90), "90 seconds");
    }
}
