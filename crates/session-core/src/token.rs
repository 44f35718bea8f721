//! The JWT codec: issues session tokens and verifies them with a pinned algorithm.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::keys::{self, Jwk, Jwks};
use crate::settings::{JwtAlgorithm, JwtSettings, SettingsError};

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id (24 lowercase hex characters).
    pub sub: String,
    /// The user's email, as stored at sign-up.
    pub email: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: i64,
    /// A random 128-bit id, so that two tokens are never equal.
    pub jti: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The session's own id (22 URL-safe base64 characters, 128 random bits); empty
    /// in tokens issued before sessions had ids.
    #[serde(default)]
    pub sid: String,
    /// `single` mode: the client's IP at login, for `GET /sessions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// `single` mode: the client's User-Agent at login, for `GET /sessions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ua: Option<String>,
}

/// Where a session was opened from, as recorded for `GET /sessions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's IP address.
    pub ip: Option<String>,
    /// The client's User-Agent, at most 256 characters.
    pub user_agent: Option<String>,
}

/// A new session id: 128 random bits as 22 URL-safe base64 characters.
pub fn new_session_id() -> Result<String, TokenError> {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| TokenError::Signing)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// True for a string shaped like a session id (22 URL-safe base64 characters).
pub fn is_session_id(s: &str) -> bool {
    s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub use crate::error::TokenError;

/// Something that can fetch verification keys the codec does not hold yet (the
/// auth-service's JWKS), when a token names an unknown key id.
pub trait KeyRefresher: Send + Sync + std::fmt::Debug {
    /// Fetches keys into the codec if allowed now; true when new keys may have arrived.
    fn refresh(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>>;
}

enum VerifyKeys {
    Single(DecodingKey),
    ByKid(RwLock<KeyRing>),
}

/// Public keys by key id, with their JWKs for publishing.
#[derive(Default)]
struct KeyRing {
    decoding: HashMap<String, DecodingKey>,
    published: Vec<Jwk>,
}

impl KeyRing {
    fn insert(&mut self, kid: &str, public: &ed25519_dalek::VerifyingKey) {
        let jwk = Jwk::ed25519(kid, public);
        if let Ok(key) = DecodingKey::from_ed_components(&jwk.x) {
            self.decoding.insert(kid.to_owned(), key);
            self.published.retain(|k| k.kid != kid);
            self.published.push(jwk);
        }
    }
}

/// How many header segments [`TokenCodec`] remembers as checked (one per signing key
/// in use; a few more cover rotations).
const KNOWN_HEADERS: usize = 16;

/// Signs and verifies session tokens according to [`JwtSettings`].
///
/// Verifying takes one of two ways with the same outcome. A token goes through
/// `jsonwebtoken::decode` whole (header parsed and checked, signature, claims, issuer,
/// audience, expiry). For HS256 only, once a token with a given header segment has
/// passed, the segment is remembered, and later tokens that carry it skip what only
/// depends on the header: the HMAC is checked with the keyed state prepared once, the
/// claims are parsed once and issuer, audience and expiry are checked here, in the
/// order jsonwebtoken checks them. A header is remembered only after a token with a
/// valid signature carried it.
///
/// Measured against `jsonwebtoken::decode` in the run of docs/benchmark.md's
/// "Hand-made parts" (`make bench-parts`, `PARTS_ONLY=jwt`, medians of 11, 2 cores,
/// load average 3.5-6): HS256 1,333 ns per verify against 2,636 ns, so the HS256 path
/// stays; EdDSA 81.8 µs against 78.0 µs
/// (the signature is the cost), so EdDSA tokens go through jsonwebtoken whole.
pub struct TokenCodec {
    signer: Option<(Header, EncodingKey)>,
    keys: VerifyKeys,
    validation: Validation,
    issuer: String,
    audience: String,
    /// HS256: the HMAC keyed with the secret, cloned for each verification.
    hmac: Option<Hmac<sha2::Sha256>>,
    /// HS256: header segments that passed the full check.
    known_headers: RwLock<Vec<Box<str>>>,
}

impl std::fmt::Debug for TokenCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCodec")
            .field("algorithm", &self.validation.algorithms)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenCodec {
    /// Builds the codec; an HS256 secret under 32 bytes or an unreadable key is an error.
    pub fn new(settings: &JwtSettings) -> Result<Self, SettingsError> {
        crate::jwt_crypto::install();
        let mut hmac = None;
        let (algorithm, signer, keys) = match settings.algorithm {
            JwtAlgorithm::HS256 => {
                let secret = settings.secret.expose_secret().as_bytes();
                if secret.len() < 32 {
                    return Err(SettingsError::TooShort {
                        key: "jwt.secret",
                        min_bytes: 32,
                    });
                }
                let encoding =
                    EncodingKey::from_secret(secret).map_err(|_| SettingsError::Malformed {
                        key: "jwt.secret".into(),
                        expected: "a usable HMAC secret",
                    })?;
                let decoding =
                    DecodingKey::from_secret(secret).map_err(|_| SettingsError::Malformed {
                        key: "jwt.secret".into(),
                        expected: "a usable HMAC secret",
                    })?;
                hmac = Some(
                    <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| {
                        SettingsError::Malformed {
                            key: "jwt.secret".into(),
                            expected: "a usable HMAC secret",
                        }
                    })?,
                );
                (
                    Algorithm::HS256,
                    Some((Header::new(Algorithm::HS256), encoding)),
                    VerifyKeys::Single(decoding),
                )
            }
            JwtAlgorithm::EdDSA => {
                let mut ring = KeyRing::default();
                let signer = match &settings.signing_key {
                    Some(value) => {
                        let kid =
                            settings
                                .signing_key_id
                                .clone()
                                .ok_or(SettingsError::Missing {
                                    key: "jwt.signing_key_id",
                                    needed_by: "jwt.signing_key",
                                })?;
                        let pem = keys::pem_text(value.expose_secret(), "jwt.signing_key")?;
                        let signing = keys::signing_key_from_pem(&pem)?;
                        let key = EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|_| {
                            SettingsError::Malformed {
                                key: "jwt.signing_key".into(),
                                expected: "an Ed25519 private key (PKCS#8 PEM)",
                            }
                        })?;
                        ring.insert(&kid, &signing.verifying_key());
                        let mut header = Header::new(Algorithm::EdDSA);
                        header.kid = Some(kid);
                        Some((header, key))
                    }
                    None => None,
                };
                for (kid, value) in &settings.verification_keys {
                    let pem = keys::pem_text(value, &format!("jwt.verification_keys.{kid}"))?;
                    ring.insert(kid, &keys::verifying_key_from_pem(&pem, kid)?);
                }
                (
                    Algorithm::EdDSA,
                    signer,
                    VerifyKeys::ByKid(RwLock::new(ring)),
                )
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_audience(&[settings.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(Self {
            signer,
            keys,
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            hmac,
            known_headers: RwLock::new(Vec::new()),
        })
    }

    /// Issues a token for `user_id` that lives `ttl_seconds` from now, with a new
    /// session id.
    pub fn issue(
        &self,
        user_id: &str,
        email: &str,
        ttl_seconds: u64,
    ) -> Result<(String, Claims), TokenError> {
        self.issue_from(user_id, email, ttl_seconds, Origin::default())
    }

    /// Like [`TokenCodec::issue`], recording `origin` in the token (`single` mode keeps
    /// no other record of it).
    pub fn issue_from(
        &self,
        user_id: &str,
        email: &str,
        ttl_seconds: u64,
        origin: Origin,
    ) -> Result<(String, Claims), TokenError> {
        let (header, key) = self.signer.as_ref().ok_or(TokenError::Signing)?;
        let iat = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(ttl_seconds).map_err(|_| TokenError::Signing)?;
        let claims = Claims {
            sub: user_id.to_owned(),
            email: email.to_owned(),
            iat,
            exp: iat.saturating_add(ttl),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sid: new_session_id()?,
            ip: origin.ip,
            ua: origin.user_agent,
        };
        let token = jsonwebtoken::encode(header, &claims, key).map_err(|_| TokenError::Signing)?;
        Ok((token, claims))
    }

    /// A new token for the session `claims` describe: the same user, email, session id,
    /// `exp` and origin, a new `jti` and `iat` (a password change rotates the caller's
    /// session this way: the old token stops working, the session stays).
    pub fn reissue(&self, claims: &Claims) -> Result<String, TokenError> {
        let (header, key) = self.signer.as_ref().ok_or(TokenError::Signing)?;
        let claims = Claims {
            iat: chrono::Utc::now().timestamp().min(claims.exp),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            ..claims.clone()
        };
        jsonwebtoken::encode(header, &claims, key).map_err(|_| TokenError::Signing)
    }

    /// Verifies signature, algorithm, issuer, audience and expiry.
    pub fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        if let Some(known) = self.decode_known(token) {
            return known;
        }
        let claims = self.decode_checked(token)?;
        self.remember_header(token);
        Ok(claims)
    }

    /// The whole check, header included.
    fn decode_checked(&self, token: &str) -> Result<Claims, TokenError> {
        let key = match &self.keys {
            VerifyKeys::Single(key) => key,
            VerifyKeys::ByKid(ring) => {
                // The key is chosen by `kid` among keys we hold; a token's kid, jku or
                // x5u is never used to fetch anything (RFC 8725).
                let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
                if header.alg != Algorithm::EdDSA {
                    return Err(TokenError::Invalid);
                }
                let kid = header.kid.ok_or(TokenError::Invalid)?;
                let ring = ring.read().map_err(|_| TokenError::Invalid)?;
                let key = ring.decoding.get(&kid).ok_or(TokenError::UnknownKey)?;
                return self.verify(token, key);
            }
        };
        self.verify(token, key)
    }

    /// Remembers the header segment of `token`, which just passed the whole check
    /// (HS256 only: for EdDSA the signature is the cost and the fast path gains nothing).
    fn remember_header(&self, token: &str) {
        if self.hmac.is_none() {
            return;
        }
        let Some((header, _)) = token.split_once('.') else {
            return;
        };
        let Ok(mut known) = self.known_headers.write() else {
            return;
        };
        if known.iter().any(|seen| **seen == *header) {
            return;
        }
        if known.len() >= KNOWN_HEADERS {
            known.remove(0);
        }
        known.push(header.into());
    }

    /// The HS256 check for a token whose header segment passed before; `None` when it
    /// did not (or the codec is not HS256).
    fn decode_known(&self, token: &str) -> Option<Result<Claims, TokenError>> {
        let hmac = self.hmac.as_ref()?;
        // Split as jsonwebtoken splits: the signature after the last dot, the header
        // before the one ahead of it.
        let (message, signature) = token.rsplit_once('.')?;
        let (header, payload) = message.rsplit_once('.')?;
        {
            let known = self.known_headers.read().ok()?;
            if !known.iter().any(|seen| **seen == *header) {
                return None;
            }
        }
        Some(self.verify_known(hmac, message, signature, payload))
    }

    fn verify_known(
        &self,
        hmac: &Hmac<sha2::Sha256>,
        message: &str,
        signature: &str,
        payload: &str,
    ) -> Result<Claims, TokenError> {
        let tag = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Invalid)?;
        let mut mac = hmac.clone();
        mac.update(message.as_bytes());
        // Constant time.
        if mac.verify_slice(&tag).is_err() {
            return Err(TokenError::Invalid);
        }
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Invalid)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Invalid)?;
        // As jsonwebtoken checks with leeway 0: expiry, then issuer, then audience.
        if claims.exp < 0 {
            return Err(TokenError::Invalid);
        }
        if claims.exp < chrono::Utc::now().timestamp() {
            return Err(TokenError::Expired);
        }
        if claims.iss != self.issuer || claims.aud != self.audience {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }

    fn verify(&self, token: &str, key: &DecodingKey) -> Result<Claims, TokenError> {
        match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(err) if matches!(err.kind(), ErrorKind::ExpiredSignature) => {
                Err(TokenError::Expired)
            }
            Err(_) => Err(TokenError::Invalid),
        }
    }

    /// The public keys this codec verifies with, as a JWK Set (empty for HS256).
    pub fn jwks(&self) -> Jwks {
        match &self.keys {
            VerifyKeys::Single(_) => Jwks::default(),
            VerifyKeys::ByKid(ring) => Jwks {
                keys: ring.read().map(|r| r.published.clone()).unwrap_or_default(),
            },
        }
    }

    /// Adds the Ed25519 keys of a JWK Set (fetched from the auth-service); returns how
    /// many were usable. Keys already held stay.
    pub fn add_jwks(&self, jwks: &Jwks) -> usize {
        let VerifyKeys::ByKid(ring) = &self.keys else {
            return 0;
        };
        let Ok(mut ring) = ring.write() else {
            return 0;
        };
        let mut added = 0;
        for jwk in &jwks.keys {
            if let Some(public) = keys::verifying_key_from_jwk(jwk) {
                ring.insert(&jwk.kid, &public);
                added += 1;
            }
        }
        added
    }

    /// The key id new tokens are signed with, if any.
    pub fn signing_key_id(&self) -> Option<&str> {
        self.signer.as_ref().and_then(|(h, _)| h.kid.as_deref())
    }
}
