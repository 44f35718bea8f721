//! Authorization parsing and token validation on arbitrary bytes: never a panic,
//! always a credential or one of the contract's codes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use session_core::settings::{JwtAlgorithm, JwtSettings};
use session_core::{Credential, TokenCodec, credential};

fn codecs() -> &'static (TokenCodec, TokenCodec) {
    static CODECS: OnceLock<(TokenCodec, TokenCodec)> = OnceLock::new();
    CODECS.get_or_init(|| {
        let mut settings = JwtSettings {
            secret: SecretString::from("fuzz-secret-that-is-long-enough-0123456789".to_owned()),
            issuer: "session-store".into(),
            audience: "session-store".into(),
            algorithm: JwtAlgorithm::HS256,
            signing_key: None,
            signing_key_id: None,
            verification_keys: Default::default(),
            jwks_url: None,
        };
        let hs = TokenCodec::new(&settings).expect("hs256 codec");
        settings.algorithm = JwtAlgorithm::EdDSA;
        settings.signing_key = Some(session_core::keys::generate_signing_key_pem().expect("key"));
        settings.signing_key_id = Some("fuzz".into());
        let ed = TokenCodec::new(&settings).expect("eddsa codec");
        (hs, ed)
    })
}

fuzz_target!(|data: &[u8]| {
    let seed = data.first().is_some_and(|b| b & 1 == 1);
    let header = if data.first().is_some_and(|b| b & 2 == 2) { None } else { Some(data) };
    match credential::parse(header, seed) {
        Ok(Credential::Bearer(token)) => {
            let (hs, ed) = codecs();
            let _ = hs.decode(&token);
            let _ = ed.decode(&token);
        }
        Ok(Credential::UserId(id)) => assert!(seed && credential::is_user_id(&id)),
        Err(err) => assert!(matches!(
            err.code(),
            "missing_authorization" | "missing_user_id" | "invalid_token"
        )),
    }
    // The raw bytes as a token too, whatever the header parsing said.
    if let Ok(text) = std::str::from_utf8(data) {
        let (hs, ed) = codecs();
        let _ = hs.decode(text);
        let _ = ed.decode(text);
    }
});
