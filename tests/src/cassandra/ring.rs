//! Parsing `nodetool ring` output of Cassandra 1.2, to know when a test ring has settled.

/// One line of `nodetool ring`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingEntry {
    pub address: String,
    /// "Up" or "Down".
    pub status: String,
    /// "Normal", "Joining", "Leaving", ...
    pub state: String,
    pub token: String,
}

impl RingEntry {
    pub fn is_up_normal(&self) -> bool {
        self.status == "Up" && self.state == "Normal"
    }
}

/// The node lines of `nodetool ring`: those starting with an IPv4 address. Header lines, the datacenter
/// banner and notes are skipped.
pub fn parse_ring(output: &str) -> Vec<RingEntry> {
    output
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Address, Rack, Status, State, Load (two words), Owns, Token.
            let (address, _rack, status, state) = (
                fields.first()?,
                fields.get(1)?,
                fields.get(2)?,
                fields.get(3)?,
            );
            address.parse::<std::net::Ipv4Addr>().ok()?;
            Some(RingEntry {
                address: address.to_string(),
                status: status.to_string(),
                state: state.to_string(),
                token: fields.last()?.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_node_lines_and_skips_banners() {
        let output = "\
Note: Ownership information does not include topology; for complete information, specify a keyspace

Datacenter: datacenter1
==========
Address         Rack        Status State   Load            Owns                Token
                                                                               113427455640312821154458202477256070485
127.0.0.2       rack1       Up     Normal  6.16 KB         33.33%              0
127.0.0.3       rack1       Down   Normal  ?               33.33%              56713727820156410577229101238628035242
";
        let ring = parse_ring(output);
        assert_eq!(ring.len(), 2);
        assert!(ring[0].is_up_normal());
        assert_eq!(ring[0].token, "0");
        assert_eq!(ring[1].status, "Down");
        assert!(!ring[1].is_up_normal());
        assert_eq!(ring[1].token, "56713727820156410577229101238628035242");
    }
}
