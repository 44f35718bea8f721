//! The account domain's refusals: the contract's reasons an account operation fails
//! ([`AccountError`]) and the rules its input must meet (an email, a password), shared
//! by sign-up, login, the password change and recovery.

use session_core::{AuthError, StoreError};

use crate::password::{HashError, MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES};
use crate::throttle::ThrottleError;
use crate::users::UserError;

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

/// Checks a sign-up password's length in bytes (8 to 72).
pub fn check_password(password: &str) -> Result<(), AccountError> {
    if (MIN_PASSWORD_BYTES..=MAX_PASSWORD_BYTES).contains(&password.len()) {
        Ok(())
    } else {
        Err(AccountError::WeakPassword)
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
