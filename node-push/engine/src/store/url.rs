//! Destination URLs: `s3://bucket/prefix` and `file:///abs/path`.

use std::path::PathBuf;
use std::str::FromStr;

/// Where objects go, parsed from a `--dest` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `s3://bucket/prefix`: `prefix` has no leading or trailing slash and may be empty.
    S3 { bucket: String, prefix: String },
    /// `file:///abs/path`: objects are files below `root`; keys are paths relative to it.
    Local { root: PathBuf },
}

impl Destination {
    /// The key prefix objects are written under (empty for a local root).
    pub fn prefix(&self) -> &str {
        match self {
            Destination::S3 { prefix, .. } => prefix,
            Destination::Local { .. } => "",
        }
    }

    /// `prefix/rel`, or `rel` when the prefix is empty.
    pub fn key_for(&self, rel: &str) -> String {
        let prefix = self.prefix();
        if prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{prefix}/{rel}")
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Destination::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Destination::Local { root } => write!(f, "file://{}", root.display()),
        }
    }
}

/// A `--dest` value that is not a destination URL we understand.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid destination {url:?}: {reason} (expected s3://bucket/prefix or file:///absolute/path)"
)]
pub struct DestinationError {
    pub url: String,
    pub reason: &'static str,
}

impl FromStr for Destination {
    type Err = DestinationError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let err = |reason| DestinationError {
            url: url.to_string(),
            reason,
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(err("missing bucket name"));
            }
            let valid = bucket.len() >= 3
                && bucket.len() <= 63
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
            if !valid {
                return Err(err(
                    "bucket names are 3-63 characters of a-z, 0-9, '.' and '-'",
                ));
            }
            let prefix = prefix.trim_matches('/').to_string();
            Ok(Destination::S3 {
                bucket: bucket.to_string(),
                prefix,
            })
        } else if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(err("file:// paths must be absolute"));
            }
            Ok(Destination::Local {
                root: PathBuf::from(path),
            })
        } else {
            Err(err("unknown scheme"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_round_trip() {
        for url in [
            "s3://my.bucket/base/path",
            "s3://bucket",
            "file:///var/backups",
        ] {
            let dest: Destination = url.parse().unwrap();
            assert_eq!(dest.to_string(), url);
        }
    }

    #[test]
    fn trims_slashes_from_prefix() {
        let dest: Destination = "s3://bucket/a/b/".parse().unwrap();
        assert_eq!(
            dest,
            Destination::S3 {
                bucket: "bucket".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(dest.key_for("x.lzo"), "a/b/x.lzo");
    }

    #[test]
    fn rejects_bad_urls() {
        for url in [
            "http://x",
            "s3://",
            "s3://UPPER/x",
            "file://relative",
            "bucket/prefix",
        ] {
            assert!(
                url.parse::<Destination>().is_err(),
                "{url} should be rejected"
            );
        }
    }
}
