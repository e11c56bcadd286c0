//! Passwords: Argon2id hashes with a random salt, never kept or shown in clear.

use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use crate::AccessError;

/// Shortest password accepted when one is set.
pub const MIN_PASSWORD_LEN: usize = 10;

/// A password in clear, as typed. Its `Debug` shows nothing of it.
pub struct Password(String);

impl Password {
    pub fn new(clear: impl Into<String>) -> Self {
        Self(clear.into())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// An Argon2id hash in PHC string form (`$argon2id$v=19$m=19456,t=2,p=1$…`):
/// algorithm, parameters and salt travel with it, so stronger parameters
/// later still verify old hashes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

impl PasswordHash {
    /// Hashes a new password with Argon2id at the OWASP-recommended cost
    /// (19 MiB, 2 passes, 1 lane: the `argon2` crate's default) and a salt
    /// from the operating system's generator. Refuses passwords shorter than
    /// [`MIN_PASSWORD_LEN`] characters.
    pub fn new(password: &Password) -> Result<Self, AccessError> {
        if password.0.chars().count() < MIN_PASSWORD_LEN {
            return Err(AccessError::WeakPassword {
                min: MIN_PASSWORD_LEN,
            });
        }
        hash(password)
    }

    /// Whether `password` is the one hashed. A stored hash that does not
    /// parse verifies nothing.
    pub fn verify(&self, password: &Password) -> bool {
        argon2::PasswordHash::new(&self.0).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.0.as_bytes(), &parsed)
                .is_ok()
        })
    }
}

fn hash(password: &Password) -> Result<PasswordHash, AccessError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.0.as_bytes(), &salt)
        .map(|hash| PasswordHash(hash.to_string()))
        .map_err(|error| AccessError::Hashing(error.to_string()))
}

/// Spends the time of one verification on a hash nobody's password matches,
/// so a login for an unknown account takes as long as one for a known
/// account (no telling which names exist by timing).
pub fn verify_nobody(password: &Password) {
    static NOBODY: OnceLock<Option<PasswordHash>> = OnceLock::new();
    let nobody = NOBODY.get_or_init(|| hash(&Password::new("no account has this password")).ok());
    if let Some(hash) = nobody {
        hash.verify(password);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = PasswordHash::new(&Password::new("đúng mật khẩu 2026")).unwrap();
        assert!(
            hash.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.0
        );
        assert!(hash.verify(&Password::new("đúng mật khẩu 2026")));
        assert!(!hash.verify(&Password::new("sai mật khẩu 2026")));
        let again = PasswordHash::new(&Password::new("đúng mật khẩu 2026")).unwrap();
        assert_ne!(hash, again, "each hash has its own salt");
    }

    #[test]
    fn short_passwords_are_refused_and_nothing_is_shown() {
        let err = PasswordHash::new(&Password::new("short")).unwrap_err();
        assert_eq!(err.to_string(), "a password needs at least 10 characters");
        let hash = PasswordHash::new(&Password::new("long enough secret")).unwrap();
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
        assert_eq!(
            format!("{:?}", Password::new("long enough secret")),
            "Password(<redacted>)"
        );
    }

    #[test]
    fn a_broken_stored_hash_verifies_nothing() {
        assert!(!PasswordHash("not a phc string".into()).verify(&Password::new("anything")));
    }
}
