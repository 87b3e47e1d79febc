//! The modern rule set: Istio's `IptablesConfigurator.Run`, step by step.
//!
//! Three generations are reproduced, and they differ only in a few places,
//! each marked by a match on [`Era`]: how nat `OUTPUT` jumps to
//! `ISTIO_OUTPUT`, where DNS capture lives, how invalid packets are dropped,
//! and whether (and how) trace logging is written. Rule order is Istio's; the renderings in
//! [`builder`](super::builder) never reorder rules within a table.

use super::builder::{Family, Log, RuleBuilder};
use super::cidr::separate_v4_v6;
use super::config::{Config, InterceptionMode, OwnerGroups, split, split_all};
use super::outbound::{self, Owner};
use super::{dns, inbound};

/// Which release's `Run` to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Era {
    /// 1.23.x (checked against 1.23.6), the last command-line release.
    V1_23,
    /// 1.24.x (checked against 1.24.6): restore input, but still 1.23's
    /// chain layout (TCP-only `OUTPUT` jump, DNS inside `ISTIO_OUTPUT`);
    /// invalid packets already go through `ISTIO_DROP`, and trace-log
    /// prefixes lost their quotes.
    V1_24,
    /// 1.25 and later (checked against 1.25.5 and the master snapshot of
    /// 2026-08-22, whose capture goldens are the same): restore input, the
    /// `ISTIO_OUTPUT_DNS` layout, no trace logging.
    Master,
}

impl Era {
    /// 1.23's and 1.24's chain layout.
    fn old_layout(self) -> bool {
        matches!(self, Era::V1_23 | Era::V1_24)
    }
}

pub(crate) const NAT: &str = "nat";
pub(crate) const MANGLE: &str = "mangle";
pub(crate) const RAW: &str = "raw";
pub(crate) const ISTIO_OUTPUT: &str = "ISTIO_OUTPUT";
pub(crate) const ISTIO_INBOUND: &str = "ISTIO_INBOUND";
pub(crate) const ISTIO_REDIRECT: &str = "ISTIO_REDIRECT";
pub(crate) const ISTIO_IN_REDIRECT: &str = "ISTIO_IN_REDIRECT";
/// The IPv6 counterpart of the configured IPv4 loopback CIDR.
pub(crate) const V6_LOOPBACK: &str = "::1/128";

/// Every rule of one run, both families, in Istio's order.
pub(crate) fn rules(config: &Config, era: Era) -> RuleBuilder {
    let trace = era.old_layout() && config.trace_logging;
    let mut b = RuleBuilder::new(config.enable_ipv6, trace);
    if era == Era::V1_24 {
        b = b.plain_log_prefixes();
    }
    let (exclude_v4, exclude_v6) = separate_v4_v6(&config.outbound_ip_ranges_exclude);
    let (include_v4, include_v6) = separate_v4_v6(&config.outbound_ip_ranges_include);
    let redirect_dns = dns::enabled(config, era);
    let loopback = (config.host_ipv4_loopback_cidr.as_str(), V6_LOOPBACK);

    short_circuits(&mut b, config, era);
    let tunnel = &config.inbound_tunnel_port;
    b.append(NAT, ISTIO_INBOUND, &format!("-p tcp --dport {tunnel} -j RETURN"));
    let to_proxy = format!("-p tcp -j REDIRECT --to-ports {}", config.proxy_port);
    b.append(NAT, ISTIO_REDIRECT, &to_proxy);
    let to_inbound = format!("-p tcp -j REDIRECT --to-ports {}", config.inbound_capture_port);
    b.traced(Log::InboundCapture)
        .append(NAT, ISTIO_IN_REDIRECT, &to_inbound);
    inbound::ports(&mut b, config);

    if era.old_layout() {
        // 1.23 and 1.24 send only TCP here, and DNS UDP through a jump of
        // its own.
        b.traced(Log::JumpOutbound)
            .append(NAT, "OUTPUT", "-p tcp -j ISTIO_OUTPUT");
    } else {
        // 1.25+ sends everything; UDP is sorted out inside the chain.
        b.append(NAT, "OUTPUT", "-j ISTIO_OUTPUT");
    }
    // Must come before the rules that send traffic back to the proxy.
    for port in split(&config.outbound_ports_exclude) {
        b.append(NAT, ISTIO_OUTPUT, &format!("-p tcp --dport {port} -j RETURN"));
        // No golden covers `-o`. The UDP twin came with the all-protocol
        // jump above (1.24.6's run.go still writes TCP only).
        if era == Era::Master {
            b.append(NAT, ISTIO_OUTPUT, &format!("-p udp --dport {port} -j RETURN"));
        }
    }
    // 127.0.0.6 (::6) is the source Envoy uses for inbound passthrough.
    b.append_versioned(NAT, ISTIO_OUTPUT, ("127.0.0.6/32", "::6/128"), |ip| {
        format!("-o lo -s {ip} -j RETURN")
    });

    // An include list naming a loopback address wants lo traffic captured.
    let returns_on_lo = !include_v4.has_loopback && !include_v6.has_loopback;
    for uid in split_all(&config.proxy_uid) {
        outbound::owner(&mut b, config, Owner::Uid, uid, redirect_dns, returns_on_lo);
    }
    for gid in split_all(&config.proxy_gid) {
        outbound::owner(&mut b, config, Owner::Gid, gid, redirect_dns, returns_on_lo);
    }
    let groups = OwnerGroups::of(config);
    outbound::owner_groups(&mut b, &groups, "");

    if redirect_dns {
        if era.old_layout() {
            dns::tcp_1_23(&mut b, config);
        } else {
            dns::master(&mut b, config);
        }
    }

    // Envoy-aware apps and same-host traffic use localhost explicitly.
    b.append_versioned(NAT, ISTIO_OUTPUT, loopback, |ip| format!("-d {ip} -j RETURN"));
    // Exclusions must come before inclusions.
    for cidr in &exclude_v4.cidrs {
        b.append_v4(NAT, ISTIO_OUTPUT, &format!("-d {cidr} -j RETURN"));
    }
    for cidr in &exclude_v6.cidrs {
        b.append_v6(NAT, ISTIO_OUTPUT, &format!("-d {cidr} -j RETURN"));
    }
    for port in split(&config.outbound_ports_include) {
        let rule = format!("-p tcp --dport {port} -j ISTIO_REDIRECT");
        b.append(NAT, ISTIO_OUTPUT, &rule);
    }
    outbound::includes(&mut b, config, &include_v4, Family::V4);
    outbound::includes(&mut b, config, &include_v6, Family::V6);

    if redirect_dns && era.old_layout() {
        dns::udp_1_23(&mut b, config, &groups);
    }
    if config.inbound_interception_mode == InterceptionMode::Tproxy {
        inbound::tproxy_marks(&mut b, config);
    }
    b
}

/// What is decided before any capture: NICs left alone, virtual NICs whose
/// traffic is not inbound, and invalid packets dropped.
fn short_circuits(b: &mut RuleBuilder, config: &Config, era: Era) {
    let tables: &[&str] = match config.inbound_interception_mode {
        InterceptionMode::Redirect => &[NAT],
        InterceptionMode::Tproxy => &[NAT, MANGLE],
    };
    for table in tables {
        for nic in split(&config.exclude_interfaces) {
            let mut b = b.traced(Log::ExcludeInterface);
            b.append(table, "PREROUTING", &format!("-i {nic} -j RETURN"));
            b.append(table, "OUTPUT", &format!("-o {nic} -j RETURN"));
        }
    }
    for nic in split(&config.reroute_virtual_interfaces) {
        b.traced(Log::Kubevirt)
            .insert(NAT, "PREROUTING", 1, &format!("-i {nic} -j RETURN"));
    }
    if config.drop_invalid {
        // Dropping beats the reset an out-of-window packet would cause.
        match era {
            Era::V1_23 => b.append(MANGLE, "PREROUTING", "-m conntrack --ctstate INVALID -j DROP"),
            Era::V1_24 | Era::Master => {
                b.append(
                    MANGLE,
                    "PREROUTING",
                    "-m conntrack --ctstate INVALID -j ISTIO_DROP",
                );
                b.append(MANGLE, "ISTIO_DROP", "-j DROP");
            }
        }
    }
}
