//! Identifier newtypes, parsed once at the edge so the core never sees a bad one.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::CoreError;

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal, $allowed:expr, $rule:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// Parses and validates an identifier.
            pub fn parse(value: &str) -> Result<Self, CoreError> {
                let reason = if value.is_empty() {
                    Some("must not be empty")
                } else if value.len() > $max {
                    Some(concat!("longer than ", $max, " characters"))
                } else if !value.chars().all($allowed) {
                    Some($rule)
                } else {
                    None
                };
                match reason {
                    Some(reason) => Err(CoreError::InvalidId {
                        what: $what,
                        value: value.to_owned(),
                        reason,
                    }),
                    None => Ok(Self(value.into())),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = CoreError;
            fn try_from(value: String) -> Result<Self, CoreError> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn code_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

fn slug_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
}

identifier!(
    /// Stable code of an administrative area (national unit codes such as `67`, `24611`).
    AreaCode, "area code", 16, code_char, "only ASCII letters, digits and '-' are allowed"
);
identifier!(
    /// Stable identifier of a loudspeaker cluster or LED board.
    DeviceId, "device id", 64, code_char, "only ASCII letters, digits and '-' are allowed"
);
identifier!(
    /// Stable identifier of a bulletin.
    BulletinId, "bulletin id", 64, slug_char, "only lowercase ASCII letters, digits, '.', '_' and '-' are allowed"
);
identifier!(
    /// The login name of a person's account, e.g. `nguyen.van.an`. Used
    /// inside store keys, so its characters never include a separator.
    Username, "account name", 64, slug_char, "only lowercase ASCII letters, digits, '.', '_' and '-' are allowed"
);
identifier!(
    /// The name of an API token for a machine client, e.g. `district-660-cms`.
    TokenName, "token name", 64, slug_char, "only lowercase ASCII letters, digits, '.', '_' and '-' are allowed"
);
identifier!(
    /// Language of a bulletin variant: `vi`, or an ethnic-minority language such as `ede`, `mnong`.
    Language, "language", 12, |c: char| c.is_ascii_lowercase(), "only lowercase ASCII letters are allowed"
);

impl Language {
    /// Vietnamese, the default language of every commune.
    pub fn vietnamese() -> Self {
        Self("vi".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_and_token_names_are_checked() {
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

    #[test]
    fn valid_identifiers_parse() {
        assert_eq!(AreaCode::parse("24611").unwrap().as_str(), "24611");
        assert_eq!(
            DeviceId::parse("24611-LS-01").unwrap().to_string(),
            "24611-LS-01"
        );
        assert!(BulletinId::parse("tinh-2026.11_a").is_ok());
        assert_eq!(
            Language::parse("mnong").unwrap(),
            Language::parse("mnong").unwrap()
        );
    }

    #[test]
    fn invalid_identifiers_say_why() {
        let err = AreaCode::parse("").unwrap_err();
        assert!(err.to_string().contains("must not be empty"), "{err}");
        let err = BulletinId::parse("Tin Tức").unwrap_err();
        assert!(err.to_string().contains("lowercase"), "{err}");
        let err = DeviceId::parse(&"x".repeat(65)).unwrap_err();
        assert!(err.to_string().contains("longer than 64"), "{err}");
        assert!(Language::parse("VI").is_err());
    }

    #[test]
    fn identifiers_are_validated_when_deserialised() {
        let err = serde_json::from_str::<AreaCode>("\"a b\"").unwrap_err();
        assert!(err.to_string().contains("area code"), "{err}");
    }
}
