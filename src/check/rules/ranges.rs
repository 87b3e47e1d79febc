//! Address ranges as sorted intervals, shared by the address rules.
//!
//! The address rules ask two questions many times: "which range contains
//! this address?" and "which ranges overlap?". Asking them pairwise would be
//! quadratic in the number of clusters and VMs, so ranges are sorted once
//! and both questions are answered with binary search and a single sweep:
//! O(n log n) however large the topology.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::check::Context;
use crate::check::{ClusterId, NetworkId};
use crate::source::Span;

/// An address family, ordered IPv4 first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    pub fn of_net(net: &IpNet) -> Family {
        Family::of(net.network())
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// An address as (family, number), so both families sort in one order and
/// never compare equal to each other.
pub type Key = (Family, u128);

pub fn key(ip: IpAddr) -> Key {
    match ip {
        IpAddr::V4(a) => (Family::V4, u128::from(u32::from(a))),
        IpAddr::V6(a) => (Family::V6, u128::from(a)),
    }
}

/// First and last address of a range.
pub fn bounds(net: &IpNet) -> (Key, Key) {
    (key(net.network()), key(net.broadcast()))
}

/// One range and its payload.
struct Item<T> {
    first: Key,
    last: Key,
    payload: T,
}

/// Ranges with a payload each, sorted by first address.
pub struct RangeSet<T> {
    /// Sorted by (first, last).
    items: Vec<Item<T>>,
    /// For each position, the index of the item with the greatest `last`
    /// among items `0..=i` of the same family: that item contains an
    /// address if any item starting at or before it does.
    reach: Vec<usize>,
}

impl<T> RangeSet<T> {
    pub fn new(ranges: impl IntoIterator<Item = (IpNet, T)>) -> Self {
        let mut items: Vec<Item<T>> = ranges
            .into_iter()
            .map(|(net, payload)| {
                let (first, last) = bounds(&net);
                Item { first, last, payload }
            })
            .collect();
        items.sort_by_key(|i| (i.first, i.last));
        let mut reach: Vec<usize> = Vec::with_capacity(items.len());
        for i in 0..items.len() {
            let best = match i.checked_sub(1).map(|p| reach[p]) {
                Some(b) if items[b].last.0 == items[i].first.0 && items[b].last >= items[i].last => b,
                _ => i,
            };
            reach.push(best);
        }
        RangeSet { items, reach }
    }

    /// A range containing `ip`, if any: of several, the one that reaches
    /// furthest.
    pub fn find(&self, ip: IpAddr) -> Option<&T> {
        let k = key(ip);
        let after = self.items.partition_point(|i| i.first <= k);
        let i = after.checked_sub(1)?;
        let best = &self.items[self.reach[i]];
        (best.first <= k && k <= best.last).then_some(&best.payload)
    }

    /// Every range that overlaps a range sorted before it, paired with one
    /// such earlier range (the one reaching furthest). Each overlapping
    /// range is reported once.
    pub fn overlaps(&self) -> Vec<(&T, &T)> {
        let mut out = Vec::new();
        for i in 1..self.items.len() {
            let earlier = &self.items[self.reach[i - 1]];
            let item = &self.items[i];
            if earlier.last.0 == item.first.0 && earlier.last >= item.first {
                out.push((&item.payload, &earlier.payload));
            }
        }
        out
    }
}

/// A pod or service range of a cluster.
#[derive(Clone, Copy, Debug)]
pub struct ClusterRange {
    pub cluster: ClusterId,
    /// `"pod"` or `"service"`.
    pub kind: &'static str,
    pub net: IpNet,
    pub span: Span,
}

/// Every pod and service range of the clusters on one network.
pub fn cluster_ranges(cx: &Context<'_>, network: NetworkId) -> RangeSet<ClusterRange> {
    ranges_of(cx, cx.index.network_clusters[network].iter().copied())
}

/// Every pod and service range of the given clusters.
pub fn ranges_of(cx: &Context<'_>, clusters: impl Iterator<Item = ClusterId>) -> RangeSet<ClusterRange> {
    RangeSet::new(clusters.flat_map(|cluster| {
        let c = &cx.topo.clusters[cluster];
        let pods = c.pod_cidrs.iter().map(move |r| (r, "pod"));
        let services = c.service_cidrs.iter().map(move |r| (r, "service"));
        pods.chain(services).map(move |(r, kind)| {
            let range = ClusterRange {
                cluster,
                kind,
                net: r.value,
                span: r.span,
            };
            (r.value, range)
        })
    }))
}

/// Why an address cannot be a workload's or gateway's address, if it
/// cannot: other hosts could never reach it.
pub fn unusable(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) if a.is_unspecified() => Some("the unspecified address"),
        IpAddr::V4(a) if a.is_loopback() => Some("a loopback address"),
        IpAddr::V4(a) if a.is_link_local() => Some("a link-local address"),
        IpAddr::V4(a) if a.is_multicast() => Some("a multicast address"),
        IpAddr::V4(a) if a.is_broadcast() => Some("the broadcast address"),
        IpAddr::V6(a) if a.is_unspecified() => Some("the unspecified address"),
        IpAddr::V6(a) if a.is_loopback() => Some("a loopback address"),
        IpAddr::V6(a) if a.is_unicast_link_local() => Some("a link-local address"),
        IpAddr::V6(a) if a.is_multicast() => Some("a multicast address"),
        IpAddr::V6(a) if a.to_ipv4_mapped().is_some() => Some("an IPv4-mapped IPv6 address"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test CIDR")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn find_sees_through_nested_and_overlapping_ranges() {
        let set = RangeSet::new([
            (net("10.0.0.0/8"), "big"),
            (net("10.1.0.0/16"), "inner"),
            (net("10.200.0.0/16"), "late"),
            (net("fd00::/64"), "v6"),
        ]);
        // Both contain it; the one reaching furthest answers.
        assert_eq!(set.find(ip("10.1.2.3")), Some(&"big"));
        // Past `inner`, the big range still contains it.
        assert_eq!(set.find(ip("10.2.0.1")), Some(&"big"));
        let inner_only = RangeSet::new([(net("10.0.0.0/24"), "a"), (net("10.1.0.0/16"), "inner")]);
        assert_eq!(inner_only.find(ip("10.1.2.3")), Some(&"inner"));
        assert_eq!(inner_only.find(ip("10.0.1.0")), None);
        assert_eq!(set.find(ip("10.255.255.255")), Some(&"big"));
        assert_eq!(set.find(ip("11.0.0.0")), None);
        assert_eq!(set.find(ip("9.255.255.255")), None);
        assert_eq!(set.find(ip("fd00::1")), Some(&"v6"));
        assert_eq!(set.find(ip("fd01::1")), None);
        // An IPv4 address never matches an IPv6 range, nor the reverse.
        assert_eq!(RangeSet::new([(net("::/0"), 1)]).find(ip("10.0.0.1")), None);
    }

    #[test]
    fn sweep_reports_each_overlapping_range_once() {
        let set = RangeSet::new([
            (net("10.0.0.0/16"), "a"),
            (net("10.1.0.0/16"), "b"),
            (net("10.0.128.0/17"), "c"),
            (net("10.0.0.0/8"), "d"),
            (net("172.16.0.0/12"), "e"),
            (net("0.0.0.0/0"), "f"),
            (net("::/0"), "g"),
        ]);
        let got: Vec<(&str, &str)> = set.overlaps().into_iter().map(|(a, b)| (*a, *b)).collect();
        // Sorted by (first, last): f 0/0, a 10.0/16, d 10/8, c 10.0.128/17,
        // b 10.1/16, e 172.16/12, g ::/0. Everything IPv4 lies inside f.
        assert_eq!(
            got,
            vec![("a", "f"), ("d", "f"), ("c", "f"), ("b", "f"), ("e", "f")]
        );
        let chain = RangeSet::new([
            (net("10.0.0.0/16"), "a"),
            (net("10.0.0.0/24"), "b"),
            (net("10.0.1.0/24"), "c"),
        ]);
        let got: Vec<(&str, &str)> = chain.overlaps().into_iter().map(|(a, b)| (*a, *b)).collect();
        // b sorts first (same start, smaller end); a then overlaps b, and c
        // overlaps a, the range reaching furthest.
        assert_eq!(got, vec![("a", "b"), ("c", "a")]);
        let disjoint = RangeSet::new([
            (net("10.0.0.0/16"), 1),
            (net("10.1.0.0/16"), 2),
            (net("0.0.0.0/32"), 3),
            (net("::/1"), 4),
        ]);
        assert!(disjoint.overlaps().is_empty());
        let touching = RangeSet::new([(net("10.0.0.0/16"), 1), (net("10.0.255.255/32"), 2)]);
        assert_eq!(touching.overlaps().len(), 1);
    }

    #[test]
    fn unusable_addresses() {
        assert_eq!(unusable(ip("127.0.0.1")), Some("a loopback address"));
        assert_eq!(unusable(ip("0.0.0.0")), Some("the unspecified address"));
        assert_eq!(unusable(ip("169.254.1.1")), Some("a link-local address"));
        assert_eq!(unusable(ip("224.0.0.1")), Some("a multicast address"));
        assert_eq!(unusable(ip("fe80::1")), Some("a link-local address"));
        assert_eq!(
            unusable(ip("::ffff:10.0.0.1")),
            Some("an IPv4-mapped IPv6 address")
        );
        assert_eq!(unusable(ip("192.168.3.201")), None);
        assert_eq!(unusable(ip("fd00::5")), None);
    }
}
