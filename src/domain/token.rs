//! Keyed digests of high-entropy secrets (web session ids, API tokens), and the
//! one-time sign-in codes of the owners' portal.
//!
//! # Why a keyed digest and not argon2 for sessions and tokens
//!
//! A session id or an API token is 256 random bits. Nobody can guess one, so a
//! slow salted hash would add no protection, only cost on every request, and a
//! salt would make the stored value impossible to look up. What must not happen is
//! that a copy of Redis hands out working credentials: Redis keeps only
//! BLAKE2b-256 digests, keyed with a key derived from `security.pepper`, and
//! turning a digest back into the token is as hard as guessing the token. (An
//! empty pepper leaves an unkeyed digest of a 256-bit secret, which still cannot
//! be reversed.)
//!
//! The sign-in codes are different: six digits are a million values, tried in
//! moments against a leaked digest, so they are stored as salted argon2id hashes
//! like PINs (see `access::signin`).

use std::fmt;

use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use blake2::{Blake2b512, Blake2bMac, Digest};

use crate::config::Secret;

/// BLAKE2b with a 256-bit output, keyed.
type Mac256 = Blake2bMac<U32>;

/// The key of every digest. Cheap to clone.
#[derive(Clone)]
pub struct TokenKey([u8; 64]);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

impl TokenKey {
    /// Derives the key from the pepper, under a label of its own so it never
    /// equals what argon2 is given.
    pub fn derive(pepper: &Secret) -> TokenKey {
        let mut hasher = Blake2b512::new();
        Digest::update(&mut hasher, b"voiceportal token digest key v1\0");
        Digest::update(&mut hasher, pepper.expose().as_bytes());
        TokenKey(hasher.finalize().into())
    }

    /// Hex digest of `secret` for one `purpose` (`session`, `api-token`, `csrf`):
    /// the same secret gives unrelated digests for different purposes.
    pub fn digest(&self, purpose: &str, secret: &str) -> String {
        let mut mac = <Mac256 as KeyInit>::new(&self.0.into());
        Mac::update(&mut mac, purpose.as_bytes());
        Mac::update(&mut mac, b"\0");
        Mac::update(&mut mac, secret.as_bytes());
        let bytes = mac.finalize().into_bytes();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Compares two strings in time that depends only on their lengths.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 256 random bits as URL-safe base64 without padding (43 characters): session
/// ids and API tokens.
pub fn random_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A one-time sign-in code: [`OneTimeCode::DIGITS`] digits, spoken to the
/// owner's phone or mailed, typed into the page. A secret: masked `Debug`, no
/// `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    pub const DIGITS: usize = 6;

    /// A fresh code, uniformly drawn from the million six-digit values.
    pub fn generate() -> OneTimeCode {
        let value: u32 = rand::random_range(0..1_000_000);
        OneTimeCode(format!("{value:06}"))
    }

    /// What a person typed: spaces and dashes between digit groups are
    /// forgiven ("123 456"); anything else that is not six digits is `None`.
    pub fn parse(raw: &str) -> Option<OneTimeCode> {
        let digits: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        (digits.len() == Self::DIGITS && digits.bytes().all(|b| b.is_ascii_digit()))
            .then_some(OneTimeCode(digits))
    }

    /// The digits, to be spoken, mailed or hashed. Never log this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_depend_on_key_purpose_and_secret() {
        let key = TokenKey::derive(&Secret::new("pepper"));
        let a = key.digest("session", "abc");
        assert_eq!(a.len(), 64);
        assert_eq!(a, key.digest("session", "abc"));
        assert_ne!(a, key.digest("api-token", "abc"));
        assert_ne!(a, key.digest("session", "abd"));
        assert_ne!(
            a,
            TokenKey::derive(&Secret::new("other")).digest("session", "abc")
        );
        assert!(!a.contains("abc"));
        assert_eq!(format!("{key:?}"), "TokenKey(***)");
    }

    #[test]
    fn secrets_are_long_random_and_url_safe() {
        let s = random_secret();
        assert_eq!(s.len(), 43);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(s, random_secret());
        assert!(same_secret(&s, &s.clone()));
        assert!(!same_secret(&s, &random_secret()));
        assert!(!same_secret("a", "ab"));
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let code = OneTimeCode::generate();
            assert_eq!(code.expose().len(), 6);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(OneTimeCode::parse(" 123 456 ").unwrap().expose(), "123456");
        assert_eq!(OneTimeCode::parse("123-456").unwrap().expose(), "123456");
        assert!(OneTimeCode::parse("12345").is_none());
        assert!(OneTimeCode::parse("1234567").is_none());
        assert!(OneTimeCode::parse("12345a").is_none());
        assert_eq!(
            format!("{:?}", OneTimeCode::parse("123456").unwrap()),
            "OneTimeCode(***)"
        );
    }
}
