//! Splitting a CIDR list into its IPv4 and IPv6 halves, as Istio does.
//!
//! Istio parses each item with Go's `netip.ParsePrefix` and silently drops
//! the ones that fail ("for bug compatibility"), so a bare address without a
//! `/bits` captures nothing. The prefix is printed back unmasked and, for
//! IPv6, in canonical form; Rust's address parsers and `Display` agree with
//! Go's on both.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::config::split;

/// One address family's share of a `-i` or `-x` list.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct NetworkRange {
    /// The list was `*`.
    pub wildcard: bool,
    /// The prefixes of this family, as Istio prints them, in input order.
    pub cidrs: Vec<String>,
    /// Some prefix's address is a loopback address.
    pub has_loopback: bool,
}

/// The IPv4 and IPv6 ranges of a comma list (Istio's `separateV4V6`).
pub(crate) fn separate_v4_v6(list: &str) -> (NetworkRange, NetworkRange) {
    if list == "*" {
        let all = || NetworkRange {
            wildcard: true,
            ..NetworkRange::default()
        };
        return (all(), all());
    }
    let mut v4 = NetworkRange::default();
    let mut v6 = NetworkRange::default();
    for (addr, bits) in split(list).filter_map(parse_prefix) {
        let range = if addr.is_ipv4() { &mut v4 } else { &mut v6 };
        range.cidrs.push(format!("{addr}/{bits}"));
        range.has_loopback |= is_loopback(addr);
    }
    (v4, v6)
}

/// Go's `netip.ParsePrefix`: an address (no zone), a slash, and a decimal
/// length without sign or leading zero that fits the family.
fn parse_prefix(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = text.rsplit_once('/')?;
    let addr: IpAddr = match addr.parse::<Ipv4Addr>() {
        Ok(v4) => IpAddr::V4(v4),
        Err(_) => IpAddr::V6(addr.parse::<Ipv6Addr>().ok()?),
    };
    let canonical = !bits.is_empty()
        && bits.bytes().all(|b| b.is_ascii_digit())
        && (bits == "0" || !bits.starts_with('0'));
    if !canonical {
        return None;
    }
    let bits: u8 = bits.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((addr, bits))
}

/// Go's `netip.Addr.IsLoopback`, which looks through IPv4-mapped addresses.
fn is_loopback(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_by_family_in_order() {
        let (v4, v6) = separate_v4_v6("10.0.0.0/8,2001:DB8::/32,127.0.0.1/32");
        assert_eq!(v4.cidrs, ["10.0.0.0/8", "127.0.0.1/32"]);
        assert!(v4.has_loopback);
        assert_eq!(v6.cidrs, ["2001:db8::/32"]);
        assert!(!v6.has_loopback);
    }

    #[test]
    fn drops_what_go_would_reject() {
        let (v4, v6) = separate_v4_v6("1.2.3.4,1.2.3.4/33,1.2.3.4/08,010.0.0.0/8,fe80::1%eth0/64,,x");
        assert_eq!(v4, NetworkRange::default());
        assert_eq!(v6, NetworkRange::default());
    }

    #[test]
    fn keeps_host_bits_like_netip() {
        let (v4, _) = separate_v4_v6("10.1.2.3/8");
        assert_eq!(v4.cidrs, ["10.1.2.3/8"]);
    }

    #[test]
    fn wildcard_is_both_families() {
        let (v4, v6) = separate_v4_v6("*");
        assert!(v4.wildcard && v6.wildcard);
        assert!(v4.cidrs.is_empty());
    }

    #[test]
    fn mapped_loopback_counts_as_loopback() {
        let (_, v6) = separate_v4_v6("::ffff:127.0.0.1/128");
        assert!(v6.has_loopback);
    }
}
