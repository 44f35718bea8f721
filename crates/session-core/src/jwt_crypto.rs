//! The JWT crate's cryptography, limited to what the product signs and checks with:
//! HMAC (HS256, and HS384/HS512 so that tokens in them can be told apart and refused)
//! and Ed25519 (EdDSA). jsonwebtoken's bundled `rust_crypto` provider would also build
//! the `rsa` crate, which nothing here uses; this provider keeps it out of the tree.
//! RSA and ECDSA tokens are refused as an invalid algorithm, never verified.

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Installs the provider for this process (a second call changes nothing). Every
/// use of jsonwebtoken in the product goes through [`crate::token::TokenCodec`],
/// which calls this; tests that call jsonwebtoken directly call it first.
pub fn install() {
    let _ = PROVIDER.install_default();
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
        ed_pub_components_from_private_key,
        compute_digest,
    },
};

fn ed_pub_components_from_private_key(der: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>, Error> {
    match curve {
        EllipticCurve::Ed25519 => Ok(SigningKey::from_pkcs8_der(der)
            .map_err(|_| ErrorKind::InvalidEddsaKey)?
            .verifying_key()
            .as_bytes()
            .to_vec()),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, Error> {
    Ok(match hash {
        ThumbprintHash::SHA256 => Sha256::digest(data).to_vec(),
        ThumbprintHash::SHA384 => Sha384::digest(data).to_vec(),
        ThumbprintHash::SHA512 => Sha512::digest(data).to_vec(),
        _ => return Err(ErrorKind::InvalidAlgorithm.into()),
    })
}

/// An HMAC key of one of the three hashes.
#[derive(Clone)]
enum HmacKey {
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
    Sha512(Hmac<Sha512>),
}

impl HmacKey {
    fn new(algorithm: Algorithm, secret: &[u8]) -> Result<Self, Error> {
        let bad = |_| Error::from(ErrorKind::InvalidKeyFormat);
        Ok(match algorithm {
            Algorithm::HS256 => Self::Sha256(Hmac::new_from_slice(secret).map_err(bad)?),
            Algorithm::HS384 => Self::Sha384(Hmac::new_from_slice(secret).map_err(bad)?),
            Algorithm::HS512 => Self::Sha512(Hmac::new_from_slice(secret).map_err(bad)?),
            _ => return Err(ErrorKind::InvalidAlgorithm.into()),
        })
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Sha256(_) => Algorithm::HS256,
            Self::Sha384(_) => Algorithm::HS384,
            Self::Sha512(_) => Algorithm::HS512,
        }
    }

    fn tag(&self, msg: &[u8]) -> Vec<u8> {
        match self.clone() {
            Self::Sha256(mut mac) => {
                mac.update(msg);
                mac.finalize().into_bytes().to_vec()
            }
            Self::Sha384(mut mac) => {
                mac.update(msg);
                mac.finalize().into_bytes().to_vec()
            }
            Self::Sha512(mut mac) => {
                mac.update(msg);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// Compares in constant time (the `hmac` crate's `verify_slice`).
    fn check(&self, msg: &[u8], tag: &[u8]) -> bool {
        match self.clone() {
            Self::Sha256(mut mac) => {
                mac.update(msg);
                mac.verify_slice(tag).is_ok()
            }
            Self::Sha384(mut mac) => {
                mac.update(msg);
                mac.verify_slice(tag).is_ok()
            }
            Self::Sha512(mut mac) => {
                mac.update(msg);
                mac.verify_slice(tag).is_ok()
            }
        }
    }
}

impl Signer<Vec<u8>> for HmacKey {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.tag(msg))
    }
}

impl JwtSigner for HmacKey {
    fn algorithm(&self) -> Algorithm {
        HmacKey::algorithm(self)
    }
}

impl Verifier<Vec<u8>> for HmacKey {
    fn verify(&self, msg: &[u8], tag: &Vec<u8>) -> Result<(), signature::Error> {
        if self.check(msg, tag) {
            Ok(())
        } else {
            Err(signature::Error::new())
        }
    }
}

impl JwtVerifier for HmacKey {
    fn algorithm(&self) -> Algorithm {
        HmacKey::algorithm(self)
    }
}

struct EdSigner(SigningKey);

impl Signer<Vec<u8>> for EdSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

impl JwtSigner for EdSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct EdVerifier(VerifyingKey);

impl Verifier<Vec<u8>> for EdVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let signature = Signature::from_slice(signature)?;
        self.0.verify_strict(msg, &signature)
    }
}

impl JwtVerifier for EdVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    match (algorithm, key.family()) {
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, AlgorithmFamily::Hmac) => {
            Ok(Box::new(HmacKey::new(*algorithm, key.as_bytes())?))
        }
        (Algorithm::EdDSA, AlgorithmFamily::Ed) => Ok(Box::new(EdSigner(
            SigningKey::from_pkcs8_der(key.as_bytes()).map_err(|_| ErrorKind::InvalidEddsaKey)?,
        ))),
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 | Algorithm::EdDSA, _) => {
            Err(ErrorKind::InvalidKeyFormat.into())
        }
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    match (algorithm, key.family()) {
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, AlgorithmFamily::Hmac) => {
            Ok(Box::new(HmacKey::new(*algorithm, key.try_get_as_bytes()?)?))
        }
        (Algorithm::EdDSA, AlgorithmFamily::Ed) => {
            let bytes = key.try_get_as_bytes()?;
            let raw: &[u8; 32] = bytes
                .get(..32)
                .and_then(|b| b.try_into().ok())
                .ok_or(ErrorKind::InvalidEddsaKey)?;
            Ok(Box::new(EdVerifier(
                VerifyingKey::from_bytes(raw).map_err(|_| ErrorKind::InvalidEddsaKey)?,
            )))
        }
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 | Algorithm::EdDSA, _) => {
            Err(ErrorKind::InvalidKeyFormat.into())
        }
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_matches_rfc_4231_test_case_2() {
        let key = HmacKey::new(Algorithm::HS256, b"Jefe").expect("key");
        let tag = key.tag(b"what do ya want for nothing?");
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(key.check(b"what do ya want for nothing?", &tag));
        assert!(!key.check(b"what do ya want for nothing!", &tag));
        assert!(!key.check(b"what do ya want for nothing?", &tag[..31]));
    }

    #[test]
    fn rsa_and_ecdsa_are_refused_not_verified() {
        let key = DecodingKey::from_secret(b"0123456789abcdef0123456789abcdef").expect("key");
        for algorithm in [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256] {
            assert!(new_verifier(&algorithm, &key).is_err(), "{algorithm:?}");
        }
    }
}
