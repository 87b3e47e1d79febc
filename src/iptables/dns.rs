//! DNS capture (`--redirect-dns`): port 53 goes to the istio-agent's DNS
//! proxy on 15053, and UDP DNS is split into two conntrack zones so that the
//! app ↔ agent and agent ↔ resolver legs never share a conntrack entry.
//!
//! 1.25+ keeps all of it in its own `ISTIO_OUTPUT_DNS` chains; 1.23 and
//! 1.24 wrote the TCP part into `ISTIO_OUTPUT` and the UDP part after the
//! outbound rules, behind `-p udp` jumps of its own.

use super::builder::RuleBuilder;
use super::capture::{Era, ISTIO_INBOUND, ISTIO_OUTPUT, NAT, RAW};
use super::config::{Config, OwnerGroups, split_all};
use super::outbound::{self, Owner};

const ISTIO_OUTPUT_DNS: &str = "ISTIO_OUTPUT_DNS";

/// Whether DNS rules are written at all. 1.25+ quietly turns capture off
/// when it would capture nothing (no resolv.conf servers and not
/// `--capture-all-dns`); 1.23 and 1.24 had no such guard and write the
/// rest anyway.
pub(crate) fn enabled(config: &Config, era: Era) -> bool {
    let has_target =
        config.capture_all_dns || !config.dns_servers_v4.is_empty() || !config.dns_servers_v6.is_empty();
    config.redirect_dns && (era != Era::Master || has_target)
}

/// The DNS servers of each family, as the host prefixes rules match.
struct Servers {
    v4: Vec<String>,
    v6: Vec<String>,
}

impl Servers {
    fn of(config: &Config) -> Self {
        Servers {
            v4: config.dns_servers_v4.iter().map(|s| format!("{s}/32")).collect(),
            v6: config.dns_servers_v6.iter().map(|s| format!("{s}/128")).collect(),
        }
    }
}

/// Redirect DNS of one protocol to the agent: every port-53 packet with
/// `--capture-all-dns`, else those to each server. (TCP takes
/// `--to-ports`, UDP `--to-port`: both spellings are upstream's.)
fn redirect(b: &mut RuleBuilder, config: &Config, chain: &str, proto: &str) {
    let to = if proto == "tcp" { "--to-ports" } else { "--to-port" };
    let rule = |server: &str| format!("-p {proto} --dport 53{server} -j REDIRECT {to} 15053");
    if config.capture_all_dns {
        b.append(NAT, chain, &rule(""));
        return;
    }
    let servers = Servers::of(config);
    for server in &servers.v4 {
        b.append_v4(NAT, chain, &rule(&format!(" -d {server}")));
    }
    for server in &servers.v6 {
        b.append_v6(NAT, chain, &rule(&format!(" -d {server}")));
    }
}

/// 1.25+'s `SetupDNSRedir`.
pub(crate) fn master(b: &mut RuleBuilder, config: &Config) {
    let servers = Servers::of(config);
    let all = config.capture_all_dns;
    b.append(RAW, "OUTPUT", "-j ISTIO_OUTPUT_DNS");
    // Jump per family only where the chain will hold something.
    if all || !servers.v4.is_empty() {
        b.append_v4(NAT, ISTIO_OUTPUT, "-j ISTIO_OUTPUT_DNS");
    }
    if all || !servers.v6.is_empty() {
        b.append_v6(NAT, ISTIO_OUTPUT, "-j ISTIO_OUTPUT_DNS");
    }
    redirect(b, config, ISTIO_OUTPUT_DNS, "tcp");
    redirect(b, config, ISTIO_OUTPUT_DNS, "udp");
    conntrack_zones(b, config, Era::Master);
}

/// The TCP half of 1.23's and 1.24's DNS capture, straight in `ISTIO_OUTPUT`.
pub(crate) fn tcp_1_23(b: &mut RuleBuilder, config: &Config) {
    redirect(b, config, ISTIO_OUTPUT, "tcp");
}

/// The UDP half of 1.23's and 1.24's DNS capture (`HandleDNSUDP`).
pub(crate) fn udp_1_23(b: &mut RuleBuilder, config: &Config, groups: &OwnerGroups) {
    b.append(NAT, "OUTPUT", "-p udp -j ISTIO_OUTPUT");
    b.append(RAW, "OUTPUT", "-p udp -j ISTIO_OUTPUT");
    // The proxy's own queries to the real resolvers are not captured.
    for (owner, ids) in [(Owner::Uid, &config.proxy_uid), (Owner::Gid, &config.proxy_gid)] {
        for id in split_all(ids) {
            let flag = owner.flag();
            b.append(
                NAT,
                ISTIO_OUTPUT,
                &format!("-p udp --dport 53 -m owner {flag} {id} -j RETURN"),
            );
        }
    }
    outbound::owner_groups(b, groups, "-p udp --dport 53 ");
    redirect(b, config, ISTIO_OUTPUT, "udp");
    conntrack_zones(b, config, Era::V1_23);
}

/// Zone 1: the agent ↔ the resolvers. Zone 2: apps ↔ the agent.
///
/// 1.25+ marks resolver replies in a raw `ISTIO_INBOUND` chain, jumped to
/// only for a family with servers (no jump to an empty chain is left
/// behind); 1.23 and 1.24 marked them in raw `PREROUTING` itself, and used
/// `ISTIO_OUTPUT` where 1.25 has `ISTIO_OUTPUT_DNS`.
fn conntrack_zones(b: &mut RuleBuilder, config: &Config, era: Era) {
    let (chain, replies) = match era {
        Era::V1_23 | Era::V1_24 => (ISTIO_OUTPUT, "PREROUTING"),
        Era::Master => (ISTIO_OUTPUT_DNS, ISTIO_INBOUND),
    };
    let jump = era == Era::Master;
    for (owner, ids) in [(Owner::Uid, &config.proxy_uid), (Owner::Gid, &config.proxy_gid)] {
        for id in split_all(ids) {
            let owner_is = format!("-m owner {} {id}", owner.flag());
            b.append(
                RAW,
                chain,
                &format!("-p udp --dport 53 {owner_is} -j CT --zone 1"),
            );
            b.append(
                RAW,
                chain,
                &format!("-p udp --sport 15053 {owner_is} -j CT --zone 2"),
            );
        }
    }
    if config.capture_all_dns {
        if jump {
            b.append(RAW, "PREROUTING", "-j ISTIO_INBOUND");
        }
        b.append(RAW, chain, "-p udp --dport 53 -j CT --zone 2");
        b.append(RAW, replies, "-p udp --sport 53 -j CT --zone 1");
        return;
    }
    let servers = Servers::of(config);
    if jump && !servers.v4.is_empty() {
        b.append_v4(RAW, "PREROUTING", "-j ISTIO_INBOUND");
    }
    for server in &servers.v4 {
        b.append_v4(
            RAW,
            chain,
            &format!("-p udp --dport 53 -d {server} -j CT --zone 2"),
        );
        b.append_v4(
            RAW,
            replies,
            &format!("-p udp --sport 53 -s {server} -j CT --zone 1"),
        );
    }
    if jump && !servers.v6.is_empty() {
        b.append_v6(RAW, "PREROUTING", "-j ISTIO_INBOUND");
    }
    for server in &servers.v6 {
        b.append_v6(
            RAW,
            chain,
            &format!("-p udp --dport 53 -d {server} -j CT --zone 2"),
        );
        b.append_v6(
            RAW,
            replies,
            &format!("-p udp --sport 53 -s {server} -j CT --zone 1"),
        );
    }
}
