//! What production refuses in a secret: the built-in development values, the
//! placeholders of the examples, and secrets a simple estimate calls guessable. The
//! settings' checks refuse them; the masked view of the settings names them.

use std::collections::BTreeMap;

/// The HS256 secret built into the defaults, for local runs only.
pub const DEV_JWT_SECRET: &str = "dev-only-secret-change-me-0123456789abcdef";
/// The internal token built into the defaults, for local runs only.
pub const DEV_INTERNAL_TOKEN: &str = "dev-only-internal-token-change-me";

/// Marks the placeholder values of `.env.example`; production refuses them too.
pub const PLACEHOLDER_MARK: &str = "replace-me";

/// The least entropy, by [`estimated_entropy_bits`], of a secret in production.
pub const MIN_SECRET_BITS: u32 = 128;

/// Why production would refuse a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weakness {
    /// It holds a built-in development value or a placeholder (public in the source).
    Development,
    /// It scores below [`MIN_SECRET_BITS`].
    Guessable {
        /// The estimate, whole bits.
        bits: u32,
    },
}

/// Why production would refuse `secret`, if it would: a built-in development value
/// or a placeholder anywhere in it, or an estimate below [`MIN_SECRET_BITS`].
pub fn weakness(secret: &str) -> Option<Weakness> {
    let development = [
        DEV_JWT_SECRET,
        DEV_INTERNAL_TOKEN,
        PLACEHOLDER_MARK,
        "dev-only",
    ]
    .iter()
    .any(|dev| secret.contains(dev));
    if development {
        return Some(Weakness::Development);
    }
    let bits = estimated_entropy_bits(secret);
    (bits < f64::from(MIN_SECRET_BITS)).then_some(Weakness::Guessable { bits: bits as u32 })
}

/// A simple estimate of a secret's entropy: its length times the Shannon entropy of
/// its characters (bits per character). Repeated or few distinct characters score
/// low whatever the length; 64 random hex digits score about 250.
pub fn estimated_entropy_bits(secret: &str) -> f64 {
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    for c in secret.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let total = secret.chars().count() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&n| {
            let p = n as f64 / total;
            -p * p.log2()
        })
        .sum();
    per_char * total
}
