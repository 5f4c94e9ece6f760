//! [`Secret`]: a string that never shows itself, the one redaction type of both binaries.
//!
//! Passwords, secret keys and session tokens travel wrapped in it, so that a stray `{:?}` or `{}` in a
//! log line or an error prints `<redacted>` instead of the value. The ways to the bytes are deliberate:
//! [`Secret::expose`] at the one place that hands the value on (a request signature, a 0600 file), and
//! serde, which writes the plain value, because the stdin line that carries credentials to node-push
//! ([`crate::message::NodeInput`]) is such a place.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What `Debug` and `Display` print instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// A sensitive string with redacted `Debug` and `Display`; serialised as the plain string.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself: only for handing it to the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let secret: Secret = "hunter2-very-secret".parse().unwrap();
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(<redacted>)");
        assert_eq!(format!("{secret:>20}"), "<redacted>");
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn serialises_as_the_plain_string() {
        #[derive(Serialize, Deserialize, Debug)]
        struct Line {
            key: Option<Secret>,
        }
        let line: Line = serde_json::from_str(r#"{"key":"s3cr3t"}"#).unwrap();
        assert_eq!(line.key.as_ref().map(Secret::expose), Some("s3cr3t"));
        assert_eq!(serde_json::to_string(&line).unwrap(), r#"{"key":"s3cr3t"}"#);
        assert!(!format!("{line:?}").contains("s3cr3t"));
    }
}
