//! The backup's `ring` object (raw `nodetool ring` of one host) read back: which tokens each address
//! owned, so that an in-place restore can tell the user the node's `initial_token`.
//!
//! Every version prints one line per token with the address first and the token last
//! (`127.0.0.2  rack1  Up  Normal  41.52 KB  33.33%  0`); header lines, the lone first-token line and
//! datacenter banners have no address first and are skipped.

use super::report::TokenReport;
use super::scripts::yaml_scalar;
use crate::output::Output;
use crate::ssh::SshOptions;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// address -> its tokens, in ring order.
pub fn tokens_by_address(ring: &str) -> BTreeMap<IpAddr, Vec<String>> {
    let mut tokens: BTreeMap<IpAddr, Vec<String>> = BTreeMap::new();
    for line in ring.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(first), Some(last)) = (words.first(), words.last()) else {
            continue;
        };
        if words.len() < 3 {
            continue;
        }
        // 1.2 prints `/127.0.0.2` in some views; the `?` of Owns is never the last word.
        let Ok(address) = first.trim_start_matches('/').parse::<IpAddr>() else {
            continue;
        };
        if is_token(last) {
            tokens.entry(address).or_default().push(last.to_string());
        }
    }
    tokens
}

/// The tokens each of `sources` had in the backup's `ring`, for an in-place restore onto `target`. A source
/// is found in the ring by [`addresses_of`], and, when it is the target itself, by the `listen_address` of
/// the target's cassandra.yaml.
pub async fn tokens_of(
    ring: Option<&str>,
    target: &str,
    target_yaml: &str,
    sources: &BTreeSet<String>,
    ssh: &SshOptions,
    output: &Output,
) -> Vec<TokenReport> {
    let Some(ring) = ring else {
        output.warn(format!(
            "{target}: the backup has no ring object: tokens unknown"
        ));
        return Vec::new();
    };
    let by_address = tokens_by_address(ring);
    let mut reports = Vec::new();
    for source in sources {
        let mut candidates = addresses_of(source, ssh).await;
        if source == target {
            if let Some(listen) =
                yaml_scalar(target_yaml, "listen_address").and_then(|a| a.parse().ok())
            {
                candidates.insert(0, listen);
            }
        }
        let found = candidates
            .iter()
            .find_map(|address| by_address.get(address).map(|t| (address, t)));
        if found.is_none() {
            output.warn(format!(
                "{target}: cannot tell which address of the backup's ring is {source} (ring: {})",
                by_address
                    .keys()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        reports.push(TokenReport {
            source_host: source.clone(),
            address: found.map(|(address, _)| address.to_string()),
            tokens: found.map(|(_, tokens)| tokens.clone()).unwrap_or_default(),
        });
    }
    reports
}

/// The addresses a `--hosts` entry may have in the ring: itself when it is an address, else what the
/// ssh config makes of it (`ssh -G`: its `HostName`), resolved. Nothing is connected to.
pub async fn addresses_of(host: &str, ssh: &SshOptions) -> Vec<IpAddr> {
    let bare = host.rsplit('@').next().unwrap_or(host);
    let bare = bare.trim_start_matches('[').trim_end_matches(']');
    if let Ok(address) = bare.parse::<IpAddr>() {
        return vec![address];
    }
    let mut command = tokio::process::Command::new("ssh");
    command.arg("-G");
    if let Some(file) = &ssh.config_file {
        command.arg("-F").arg(file);
    }
    command.args(["--", bare]);
    let hostname = match command.stdin(std::process::Stdio::null()).output().await {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("hostname ").map(|h| h.trim().to_string())),
        _ => None,
    }
    .unwrap_or_else(|| bare.to_string());
    if let Ok(address) = hostname.parse::<IpAddr>() {
        return vec![address];
    }
    let found = tokio::net::lookup_host(format!("{hostname}:0")).await;
    match found {
        Ok(found) => found.map(|a| a.ip()).collect(),
        Err(_) => Vec::new(),
    }
}

/// A decimal (Random, Murmur3) or hex (ByteOrdered) token.
fn is_token(word: &str) -> bool {
    let digits = word.strip_prefix('-').unwrap_or(word);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING_12: &str = "\
Datacenter: datacenter1
==========
Replicas: 1

Address         Rack        Status State   Load            Owns                Token
                                                                               113427455640312821154458202477256070485
127.0.0.2       rack1       Up     Normal  46.75 KB        33.33%              0
127.0.0.3       rack1       Up     Normal  46.73 KB        33.33%              56713727820156410577229101238628035242
127.0.0.4       rack1       Up     Normal  46.7 KB         33.33%              113427455640312821154458202477256070485
";

    #[test]
    fn reads_one_token_per_node_and_vnodes() {
        let tokens = tokens_by_address(RING_12);
        assert_eq!(tokens.len(), 3);
        let node3: IpAddr = "127.0.0.4".parse().unwrap();
        assert_eq!(tokens[&node3], ["113427455640312821154458202477256070485"]);
        let vnodes = "127.0.0.1  rack1  Up  Normal  100.5 KiB  ?  -9223372036854775808\n\
                      127.0.0.1  rack1  Up  Normal  100.5 KiB  ?  -3074457345618258603\n";
        let tokens = tokens_by_address(vnodes);
        assert_eq!(tokens.values().next().unwrap().len(), 2);
    }
}
