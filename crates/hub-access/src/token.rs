//! Bearer secrets for sessions and API tokens: 256 random bits, shown once,
//! stored only as their SHA-256 so a copy of the store gives no live token.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A secret token in clear: handed to its holder once, then only presented
/// back. Its `Debug` shows nothing of it.
pub struct SecretToken(String);

impl SecretToken {
    /// 32 bytes from the operating system's generator, base64url (43 characters).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token as a client presented it (a bearer header, say).
    pub fn presented(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The token in clear, to give to its holder.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps and looks tokens up by.
    pub fn hash(&self) -> TokenHash {
        TokenHash(format!("{:x}", Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

/// Lower-case hex SHA-256 of a token. Not a secret: the token has 256 bits
/// of entropy, so the hash cannot be turned back into it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_256_bit_and_hash_stably() {
        let a = SecretToken::generate();
        let b = SecretToken::generate();
        assert_eq!(a.expose().len(), 43);
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash(), SecretToken::presented(a.expose()).hash());
        assert_eq!(a.hash().as_str().len(), 64);
        assert_eq!(format!("{a:?}"), "SecretToken(<redacted>)");
    }
}
