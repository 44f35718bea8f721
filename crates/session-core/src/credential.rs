//! Parsing the `Authorization` header into a credential.

use crate::error::AuthError;

/// Longest `Authorization` value read; a longer one is `invalid_token`.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// What a client presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Bearer <token>`: the JWT that login returned.
    Bearer(String),
    /// Seed mode: a userId (24 hex characters), with or without a scheme.
    UserId(String),
}

/// True for a MongoDB ObjectId written as 24 hex characters.
pub fn is_user_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses the raw header value (`None` when the header is absent).
///
/// `accept_user_id` turns on seed mode. The scheme is case-insensitive; any run of
/// spaces or tabs separates it from the credential.
pub fn parse(header: Option<&[u8]>, accept_user_id: bool) -> Result<Credential, AuthError> {
    let raw = header.ok_or(AuthError::MissingAuthorization)?;
    if raw.len() > MAX_AUTHORIZATION_BYTES {
        return Err(AuthError::InvalidToken);
    }
    let value = std::str::from_utf8(raw).map_err(|_| AuthError::InvalidToken)?;
    let mut parts = value.split_ascii_whitespace();
    let (first, second) = (parts.next(), parts.next());
    if parts.next().is_some() {
        return Err(AuthError::InvalidToken);
    }
    match (first, second) {
        (None, _) => Err(AuthError::MissingUserId),
        (Some(word), None) => {
            if word.eq_ignore_ascii_case("bearer") {
                Err(AuthError::MissingUserId)
            } else if accept_user_id && is_user_id(word) {
                Ok(Credential::UserId(word.to_ascii_lowercase()))
            } else {
                Err(AuthError::InvalidToken)
            }
        }
        (Some(scheme), Some(cred)) => {
            if accept_user_id && is_user_id(cred) {
                Ok(Credential::UserId(cred.to_ascii_lowercase()))
            } else if scheme.eq_ignore_ascii_case("bearer") {
                Ok(Credential::Bearer(cred.to_owned()))
            } else {
                Err(AuthError::InvalidToken)
            }
        }
    }
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln";
    const UID: &str = "65a1b2c3d4e5f60718293a4b";

    fn p(h: &str, seed: bool) -> Result<Credential, AuthError> {
        parse(Some(h.as_bytes()), seed)
    }

    #[test]
    fn header_table_gives_the_contract_codes() {
        let junk = "x".repeat(10 * 1024);
        let cases: Vec<(String, bool, Result<Credential, AuthError>)> = vec![
            ("".to_string(), false, Err(AuthError::MissingUserId)),
            ("   ".to_string(), false, Err(AuthError::MissingUserId)),
            ("Bearer".to_string(), false, Err(AuthError::MissingUserId)),
            ("Bearer ".to_string(), false, Err(AuthError::MissingUserId)),
            ("bearer".to_string(), true, Err(AuthError::MissingUserId)),
            (
                format!("bearer {JWT}"),
                false,
                Ok(Credential::Bearer(JWT.into())),
            ),
            (
                format!("BEARER {JWT}"),
                false,
                Ok(Credential::Bearer(JWT.into())),
            ),
            (
                format!("Bearer  {JWT}"),
                false,
                Ok(Credential::Bearer(JWT.into())),
            ),
            (
                format!("Bearer {JWT} extra"),
                false,
                Err(AuthError::InvalidToken),
            ),
            (format!("Basic {JWT}"), false, Err(AuthError::InvalidToken)),
            (JWT.to_string(), false, Err(AuthError::InvalidToken)),
            (UID.to_string(), false, Err(AuthError::InvalidToken)),
            (UID.to_string(), true, Ok(Credential::UserId(UID.into()))),
            (
                format!("Bearer {UID}"),
                true,
                Ok(Credential::UserId(UID.into())),
            ),
            (
                format!("Token {UID}"),
                true,
                Ok(Credential::UserId(UID.into())),
            ),
            (
                format!("Bearer {UID}"),
                false,
                Ok(Credential::Bearer(UID.into())),
            ),
            (
                format!("Bearer {JWT}"),
                true,
                Ok(Credential::Bearer(JWT.into())),
            ),
            (
                "not-a-user-id".to_string(),
                true,
                Err(AuthError::InvalidToken),
            ),
            (junk.clone(), false, Err(AuthError::InvalidToken)),
            (format!("Bearer {junk}"), true, Err(AuthError::InvalidToken)),
        ];
        for (header, seed, want) in cases {
            assert_eq!(p(&header, seed), want, "header {header:.40?} seed={seed}");
        }
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(constant_time_eq("", ""));
    }

    #[test]
    fn missing_header_is_missing_authorization() {
        assert_eq!(parse(None, false), Err(AuthError::MissingAuthorization));
        assert_eq!(parse(None, true), Err(AuthError::MissingAuthorization));
    }

    #[test]
    fn non_utf8_is_invalid_token() {
        assert_eq!(
            parse(Some(b"Bearer \xff\xfe"), false),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn user_id_is_lowercased_in_seed_mode() {
        let upper = UID.to_ascii_uppercase();
        assert_eq!(p(&upper, true), Ok(Credential::UserId(UID.into())));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic_and_map_to_contract_codes(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..9000),
            seed in proptest::bool::ANY,
        ) {
            match parse(Some(&bytes), seed) {
                Ok(Credential::Bearer(t)) => proptest::prop_assert!(!t.is_empty()),
                Ok(Credential::UserId(u)) => proptest::prop_assert!(seed && is_user_id(&u)),
                Err(e) => proptest::prop_assert!(matches!(
                    e.code().as_str(),
                    "missing_user_id" | "invalid_token"
                )),
            }
        }

        #[test]
        fn scheme_plus_random_text_is_handled(s in "[ -~]{0,200}", seed in proptest::bool::ANY) {
            let header = format!("Bearer {s}");
            let out = parse(Some(header.as_bytes()), seed);
            proptest::prop_assert!(out.is_ok() || matches!(
                out.as_ref().map_err(|e| e.code().as_str()),
                Err("missing_user_id" | "invalid_token")
            ));
        }
    }
}
