//! Free TCP ports on loopback addresses.
//!
//! Several test processes (and several developers' test runs) share this machine and the same 127.0.0.x
//! addresses, so fixed ports such as 2222 or 7000 would collide. The kernel hands out an unused ephemeral
//! port when binding to port 0; we take it, release it, and give it to the server we are about to start.
//! Another process could grab it in between; callers retry when their server reports "Address already in
//! use".

use std::net::{Ipv4Addr, TcpListener};

use anyhow::{bail, Result};

/// `count` distinct ports, each free on every one of `ips` right now (a port number shared by all the
/// addresses, as Cassandra's `storage_port` must be).
pub fn free_ports_on_all(ips: &[Ipv4Addr], count: usize) -> Result<Vec<u16>> {
    let Some((&first, rest)) = ips.split_first() else {
        bail!("free_ports_on_all needs at least one address");
    };
    // The listeners stay open until every port is chosen, so the kernel cannot hand out one port twice.
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _attempt in 0..200 {
        if ports.len() == count {
            return Ok(ports);
        }
        let probe = TcpListener::bind((first, 0))?;
        let port = probe.local_addr()?.port();
        let others: Result<Vec<TcpListener>, _> = rest
            .iter()
            .map(|&ip| TcpListener::bind((ip, port)))
            .collect();
        if let Ok(others) = others {
            ports.push(port);
            held.push(probe);
            held.extend(others);
        }
    }
    if ports.len() == count {
        return Ok(ports);
    }
    bail!(
        "found only {} of {count} TCP ports free on all of {ips:?}",
        ports.len()
    )
}

/// A port that is free on `ip` right now.
pub fn free_port(ip: Ipv4Addr) -> Result<u16> {
    Ok(free_ports_on_all(&[ip], 1)?[0])
}
