//! Names of accounts and API tokens, validated once at the edge.
//!
//! Both are used inside store keys, separated by `\0`, so the character set
//! is small and never contains a separator.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::AccessError;

/// Longest account or token name.
pub const MAX_NAME_LEN: usize = 64;

macro_rules! name {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses and validates a name: 1 to 64 lowercase ASCII letters,
            /// digits, `.`, `_` or `-`.
            pub fn parse(value: &str) -> Result<Self, AccessError> {
                let reason = if value.is_empty() {
                    Some("must not be empty")
                } else if value.len() > MAX_NAME_LEN {
                    Some("longer than 64 characters")
                } else if !value.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                }) {
                    Some("only lowercase ASCII letters, digits, '.', '_' and '-' are allowed")
                } else {
                    None
                };
                match reason {
                    Some(reason) => Err(AccessError::InvalidName {
                        what: $what,
                        value: value.to_owned(),
                        reason,
                    }),
                    None => Ok(Self(value.to_owned())),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = AccessError;
            fn try_from(value: String) -> Result<Self, AccessError> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name!(
    /// The login name of a person's account, e.g. `nguyen.van.an`.
    Username, "account name"
);
name!(
    /// The name of an API token, e.g. `district-660-cms`.
    TokenName, "token name"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(
            Username::parse("tran.thi-b_2").unwrap().as_str(),
            "tran.thi-b_2"
        );
        let err = Username::parse("Trần").unwrap_err().to_string();
        assert!(
            err.contains("account name") && err.contains("lowercase"),
            "{err}"
        );
        assert!(TokenName::parse("").is_err());
        assert!(TokenName::parse(&"a".repeat(65)).is_err());
        assert!(serde_json::from_str::<Username>("\"a\\u0000b\"").is_err());
    }
}
