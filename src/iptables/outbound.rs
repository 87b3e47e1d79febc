//! `ISTIO_OUTPUT` rules that depend on who sends and where to: the proxy's
//! own users and groups, the owner-group filter, and the captured CIDRs.

use super::builder::{Family, Log, RuleBuilder};
use super::capture::{ISTIO_OUTPUT, NAT, V6_LOOPBACK};
use super::cidr::NetworkRange;
use super::config::{Config, OwnerGroups, split};

/// Whether an id in `-u` or `-g` is matched as a user or as a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    Uid,
    Gid,
}

impl Owner {
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Owner::Uid => "--uid-owner",
            Owner::Gid => "--gid-owner",
        }
    }
}

/// The three rules for one proxy uid or gid.
pub(crate) fn owner(
    b: &mut RuleBuilder,
    config: &Config,
    owner: Owner,
    id: &str,
    dns: bool,
    returns_on_lo: bool,
) {
    let owner_is = format!("-m owner {} {id}", owner.flag());
    let tunnel = &config.inbound_tunnel_port;
    // The proxy calling a service VIP that lands on this host goes back
    // through the proxy's inbound side (app → Envoy → Envoy → app). With DNS
    // capture the uid rule leaves port 53 alone, so that the agent's own
    // queries go straight out; upstream never did the same for the gid rule.
    let ports = if dns && owner == Owner::Uid {
        format!("-m multiport ! --dports 53,{tunnel}")
    } else {
        format!("! --dport {tunnel}")
    };
    let loopback = (config.host_ipv4_loopback_cidr.as_str(), V6_LOOPBACK);
    b.append_versioned(NAT, ISTIO_OUTPUT, loopback, |ip| {
        format!("-o lo ! -d {ip} -p tcp {ports} {owner_is} -j ISTIO_IN_REDIRECT")
    });
    // An app talking to itself over lo by its own address stays off the
    // proxy. With DNS capture port 53 is kept out of that, so that TCP DNS
    // to a resolver on localhost is still captured.
    if returns_on_lo {
        let not_dns = if dns { "-p tcp ! --dport 53 " } else { "" };
        let not_owner = format!("-m owner ! {} {id}", owner.flag());
        b.append(
            NAT,
            ISTIO_OUTPUT,
            &format!("-o lo {not_dns}{not_owner} -j RETURN"),
        );
    }
    // The proxy's own traffic is never sent back to it: that would loop.
    b.append(NAT, ISTIO_OUTPUT, &format!("{owner_is} -j RETURN"));
}

/// The owner-group filter (`ISTIO_OUTBOUND_OWNER_GROUPS[_EXCLUDE]`), for the
/// traffic `matches` selects (empty, or 1.23's `-p udp --dport 53 ` for
/// DNS). The default, every group, adds nothing.
pub(crate) fn owner_groups(b: &mut RuleBuilder, groups: &OwnerGroups, matches: &str) {
    match groups {
        OwnerGroups::AllExcept(excluded) => {
            for group in excluded {
                b.append(
                    NAT,
                    ISTIO_OUTPUT,
                    &format!("{matches}-m owner --gid-owner {group} -j RETURN"),
                );
            }
        }
        OwnerGroups::Only(included) => {
            let mut rule = matches.to_string();
            for group in included {
                rule.push_str("-m owner ! --gid-owner ");
                rule.push_str(group);
                rule.push(' ');
            }
            rule.push_str("-j RETURN");
            b.append(NAT, ISTIO_OUTPUT, &rule);
        }
    }
}

/// `-i` for one family: send the included destinations to the proxy, and
/// treat traffic from the virtual NICs (`-k`) to them as outbound.
pub(crate) fn includes(b: &mut RuleBuilder, config: &Config, range: &NetworkRange, family: Family) {
    let append = |b: &mut RuleBuilder, rule: &str| match family {
        Family::V4 => b.append_v4(NAT, ISTIO_OUTPUT, rule),
        Family::V6 => b.append_v6(NAT, ISTIO_OUTPUT, rule),
    };
    let reroute = |b: &mut RuleBuilder, rule: &str| match family {
        Family::V4 => b.traced(Log::Kubevirt).insert_v4(NAT, "PREROUTING", 1, rule),
        Family::V6 => b.traced(Log::Kubevirt).insert_v6(NAT, "PREROUTING", 1, rule),
    };
    let nics = || split(&config.reroute_virtual_interfaces);
    if range.wildcard {
        append(b, "-j ISTIO_REDIRECT");
        for nic in nics() {
            reroute(b, &format!("-i {nic} -j ISTIO_REDIRECT"));
        }
        return;
    }
    // Unlike the 1.0 script, no catch-all `-j RETURN` follows: the rest of
    // the traffic falls off the end of the chain.
    for cidr in &range.cidrs {
        for nic in nics() {
            reroute(b, &format!("-i {nic} -d {cidr} -j ISTIO_REDIRECT"));
        }
        append(b, &format!("-d {cidr} -j ISTIO_REDIRECT"));
    }
}
