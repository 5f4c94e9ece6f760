//! `--host-map old=new,...`: which host's data goes to which host.

use std::collections::BTreeMap;
use std::str::FromStr;

/// `--host-map old=new,...`: restore a node's data onto another node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostMap(BTreeMap<String, String>);

impl HostMap {
    /// The target host for `source`.
    pub fn target<'a>(&'a self, source: &'a str) -> &'a str {
        self.0.get(source).map_or(source, String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `old=new` pairs, sorted by old name.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(a, b)| (a.as_str(), b.as_str()))
    }
}

/// A `--host-map` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid host map {value:?}: {reason} (expected old=new,old2=new2)")]
pub struct HostMapError {
    pub value: String,
    pub reason: String,
}

impl FromStr for HostMap {
    type Err = HostMapError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| HostMapError {
            value: value.to_string(),
            reason,
        };
        let mut map = BTreeMap::new();
        for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (old, new) = pair
                .split_once('=')
                .ok_or_else(|| err(format!("{pair:?} has no '='")))?;
            let (old, new) = (old.trim(), new.trim());
            // A host becomes a file-name prefix in the flat layout: no separators, no empty names.
            for host in [old, new] {
                if host.is_empty() || host.contains('/') || host == "." || host == ".." {
                    return Err(err(format!("{host:?} is not a host name")));
                }
            }
            if map.insert(old.to_string(), new.to_string()).is_some() {
                return Err(err(format!("{old:?} is mapped twice")));
            }
        }
        Ok(HostMap(map))
    }
}

impl std::fmt::Display for HostMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: Vec<String> = self.pairs().map(|(a, b)| format!("{a}={b}")).collect();
        f.write_str(&pairs.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_maps_parse_strictly() {
        let map: HostMap = "a=b, c=d".parse().unwrap();
        assert_eq!(map.target("a"), "b");
        assert_eq!(map.target("x"), "x");
        assert_eq!(map.to_string(), "a=b,c=d");
        for bad in ["a", "a=", "=b", "a=b,a=c", "a=x/y"] {
            assert!(bad.parse::<HostMap>().is_err(), "{bad}");
        }
        assert!("".parse::<HostMap>().unwrap().is_empty());
    }
}
