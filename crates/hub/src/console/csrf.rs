//! Cross-site request forgery: every state-changing form carries a token
//! the server checks before anything is done.
//!
//! - Logged in, the token is SHA-256 of a fixed label and the session token.
//!   The session token is a 256-bit secret the browser keeps in an HttpOnly
//!   cookie, so another site can neither read nor compute the form token,
//!   and the form token (which is in the page) does not reveal the session.
//!   It changes with every login and dies with the session.
//! - Before login, a random token is set in a cookie of its own and echoed in
//!   the login form (double submit): a forged login from another site cannot
//!   know it, and SameSite=Strict keeps the cookie off cross-site requests.

use hub_access::SecretToken;
use sha2::{Digest, Sha256};

/// The form field carrying the token.
pub const FIELD: &str = "csrf";
/// The cookie holding the login form's token.
pub const LOGIN_COOKIE: &str = "nguon_login";

/// The form token of the session whose token is `session`.
pub fn token_for(session: &SecretToken) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"nguon console csrf\0");
    hasher.update(session.expose().as_bytes());
    hex(&hasher.finalize())
}

/// A fresh token for the login form.
pub fn login_token() -> String {
    SecretToken::generate().expose().to_owned()
}

/// Whether `presented` is `expected`, compared in constant time (an empty
/// expectation never matches).
pub fn matches(expected: &str, presented: Option<&str>) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    if expected.is_empty() || expected.len() != presented.len() {
        return false;
    }
    expected
        .bytes()
        .zip(presented.bytes())
        .fold(0u8, |differ, (a, b)| differ | (a ^ b))
        == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_bound_to_its_session() {
        let (one, two) = (SecretToken::generate(), SecretToken::generate());
        let token = token_for(&one);
        assert_eq!(token.len(), 64);
        assert!(matches(&token, Some(&token_for(&one))));
        assert!(!matches(&token, Some(&token_for(&two))));
        assert!(!token.contains(one.expose()));
    }

    #[test]
    fn missing_empty_or_wrong_tokens_never_match() {
        let token = login_token();
        assert!(matches(&token, Some(&token.clone())));
        assert!(!matches(&token, None));
        assert!(!matches(&token, Some("")));
        assert!(!matches("", Some("")));
        let mut wrong = token.clone().into_bytes();
        wrong[0] ^= 1;
        assert!(!matches(&token, Some(&String::from_utf8(wrong).unwrap())));
    }
}
