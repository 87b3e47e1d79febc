//! The rule set of Istio 1.0's `tools/deb/istio-iptables.sh`, the script the
//! 1.0 VM package ran on start, as the commands it traces with `set -x`.
//!
//! The script reads fewer settings than the modern tool: ports (`-p`, `-z`),
//! uids and gids, the interception mode with its mark and route table,
//! inbound ports (`-b`, `-d`), outbound CIDRs (`-i`, `-x`) and whether IPv6
//! is on. Everything else in [`Config`] is ignored here. Its quiet clean-up of
//! old chains (run with output discarded, before tracing starts) is not part
//! of the output.
//!
//! The script differs from the modern rules in ways that matter on a VM:
//! inbound capture defaults to the Envoy port (see [`Config::legacy`]), SSH
//! (port 22) is always let through when every inbound port is captured, all
//! lo traffic not to 127.0.0.1 goes to the proxy whoever sends it, a CIDR list
//! ends with a catch-all `-j RETURN`, and without IPv6 the script locks
//! inbound IPv6 down.

use super::config::{Config, InterceptionMode, split, split_all};
use super::ruleset::{Rule, Ruleset};

/// The traced commands, one per line, in the script's order.
pub(crate) fn script(config: &Config) -> String {
    run(config).text
}

/// The script's run: its trace and its iptables rules.
pub(crate) fn run(config: &Config) -> Script {
    let mut out = Script::default();
    let proxy = config.proxy_port.as_str();
    out.new_chain(NAT, "ISTIO_REDIRECT");
    out.append(
        NAT,
        "ISTIO_REDIRECT",
        &format!("-p tcp -j REDIRECT --to-port {proxy}"),
    );
    out.new_chain(NAT, "ISTIO_IN_REDIRECT");
    out.append(
        NAT,
        "ISTIO_IN_REDIRECT",
        &format!("-p tcp -j REDIRECT --to-port {}", config.inbound_capture_port),
    );
    inbound(&mut out, config);

    out.new_chain(NAT, "ISTIO_OUTPUT");
    out.append(NAT, "OUTPUT", "-p tcp -j ISTIO_OUTPUT");
    // Calls to a service VIP that resolve to this host come back over lo;
    // they go through the proxy, with no owner condition.
    out.append(NAT, "ISTIO_OUTPUT", "-o lo ! -d 127.0.0.1/32 -j ISTIO_REDIRECT");
    // The proxy's own traffic (and root's, by default) is never redirected.
    for uid in split_all(&config.proxy_uid) {
        out.append(
            NAT,
            "ISTIO_OUTPUT",
            &format!("-m owner --uid-owner {uid} -j RETURN"),
        );
    }
    for gid in split_all(&config.proxy_gid) {
        out.append(
            NAT,
            "ISTIO_OUTPUT",
            &format!("-m owner --gid-owner {gid} -j RETURN"),
        );
    }
    out.append(NAT, "ISTIO_OUTPUT", "-d 127.0.0.1/32 -j RETURN");
    // `*` is no exclusion at all (the CLI rejects it, as Istio does).
    for cidr in split(&config.outbound_ip_ranges_exclude).filter(|cidr| *cidr != "*") {
        out.append(NAT, "ISTIO_OUTPUT", &format!("-d {cidr} -j RETURN"));
    }
    let include = config.outbound_ip_ranges_include.as_str();
    if include == "*" {
        out.append(NAT, "ISTIO_OUTPUT", "-j ISTIO_REDIRECT");
    } else if !include.is_empty() {
        for cidr in split(include) {
            out.append(NAT, "ISTIO_OUTPUT", &format!("-d {cidr} -j ISTIO_REDIRECT"));
        }
        out.append(NAT, "ISTIO_OUTPUT", "-j RETURN");
    }

    // The 1.0 script wrote no IPv6 capture; with IPv6 off (its default) it
    // drops every inbound IPv6 packet that is not part of a connection.
    if !config.enable_ipv6 {
        out.line("ip6tables -F INPUT");
        out.line("ip6tables -A INPUT -m state --state ESTABLISHED -j ACCEPT");
        out.line("ip6tables -A INPUT -j REJECT");
    }
    out
}

/// `-b`/`-d`, in the chosen mode. Each `-N` comes right before its chain's
/// first rule, as the script runs them.
fn inbound(out: &mut Script, config: &Config) {
    let include = config.inbound_ports_include.as_str();
    if include.is_empty() {
        return;
    }
    let tproxy = config.inbound_interception_mode == InterceptionMode::Tproxy;
    let table = if tproxy { "mangle" } else { "nat" };
    if tproxy {
        let mark = config.inbound_tproxy_mark.as_str();
        let route_table = config.inbound_tproxy_route_table.as_str();
        out.new_chain(MANGLE, "ISTIO_DIVERT");
        out.append(MANGLE, "ISTIO_DIVERT", &format!("-j MARK --set-mark {mark}"));
        out.append(MANGLE, "ISTIO_DIVERT", "-j ACCEPT");
        // Marked packets are routed to lo, where the proxy picks them up.
        out.line(&format!("ip -f inet rule add fwmark {mark} lookup {route_table}"));
        out.line(&format!(
            "ip -f inet route add local default dev lo table {route_table}"
        ));
        out.new_chain(MANGLE, "ISTIO_TPROXY");
        // The script sends TPROXY to the Envoy port, not to `-z`.
        out.append(
            MANGLE,
            "ISTIO_TPROXY",
            &format!(
                "! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark {mark}/0xffffffff --on-port {}",
                config.proxy_port
            ),
        );
    }
    out.new_chain(table, "ISTIO_INBOUND");
    out.append(table, "PREROUTING", "-p tcp -j ISTIO_INBOUND");
    if include == "*" {
        // SSH always stays reachable when everything else is captured.
        out.append(table, "ISTIO_INBOUND", "-p tcp --dport 22 -j RETURN");
        for port in split(&config.inbound_ports_exclude) {
            out.append(
                table,
                "ISTIO_INBOUND",
                &format!("-p tcp --dport {port} -j RETURN"),
            );
        }
        if tproxy {
            out.append(MANGLE, "ISTIO_INBOUND", "-p tcp -m socket -j ISTIO_DIVERT");
            out.append(MANGLE, "ISTIO_INBOUND", "-p tcp -j ISTIO_TPROXY");
        } else {
            out.append(NAT, "ISTIO_INBOUND", "-p tcp -j ISTIO_IN_REDIRECT");
        }
        return;
    }
    for port in split(include) {
        if tproxy {
            // Upstream writes the socket rule twice per port; kept for fidelity.
            out.append(
                MANGLE,
                "ISTIO_INBOUND",
                &format!("-p tcp --dport {port} -m socket -j ISTIO_DIVERT"),
            );
            out.append(
                MANGLE,
                "ISTIO_INBOUND",
                &format!("-p tcp --dport {port} -m socket -j ISTIO_DIVERT"),
            );
            out.append(
                MANGLE,
                "ISTIO_INBOUND",
                &format!("-p tcp --dport {port} -j ISTIO_TPROXY"),
            );
        } else {
            out.append(
                NAT,
                "ISTIO_INBOUND",
                &format!("-p tcp --dport {port} -j ISTIO_IN_REDIRECT"),
            );
        }
    }
}

/// The trace being written, one command per line, and the rules of its
/// iptables commands by table, as they are run.
#[derive(Default)]
pub(crate) struct Script {
    pub(crate) text: String,
    pub(crate) rules: Ruleset,
}

const NAT: &str = "nat";
const MANGLE: &str = "mangle";

impl Script {
    /// A command that is not an iptables rule (`ip …`, the IPv6 lockdown).
    fn line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    /// `iptables -t TABLE -N CHAIN`.
    fn new_chain(&mut self, table: &str, chain: &str) {
        self.line(&format!("iptables -t {table} -N {chain}"));
        let chains = &mut self.rules.table_mut(table).chains;
        if !chains.iter().any(|c| c == chain) {
            chains.push(chain.to_owned());
        }
    }

    /// `iptables -t TABLE -A CHAIN spec`.
    fn append(&mut self, table: &str, chain: &str, spec: &str) {
        let rule = Rule {
            chain: chain.to_owned(),
            position: None,
            spec: spec.to_owned(),
        };
        self.line(&format!("iptables -t {table} {}", rule.line()));
        self.rules.table_mut(table).rules.push(rule);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of `istio-formats.md` §e.3 (the integration test
    /// also checks it against the document itself).
    #[test]
    fn worked_example() {
        let config = Config {
            proxy_uid: vec!["999".into(), "0".into()],
            proxy_gid: vec!["999".into(), "0".into()],
            outbound_ip_ranges_include: "10.63.240.0/20".into(),
            inbound_ports_include: "3306,9080".into(),
            ..Config::legacy()
        };
        let want = "\
iptables -t nat -N ISTIO_REDIRECT
iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001
iptables -t nat -N ISTIO_IN_REDIRECT
iptables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15001
iptables -t nat -N ISTIO_INBOUND
iptables -t nat -A PREROUTING -p tcp -j ISTIO_INBOUND
iptables -t nat -A ISTIO_INBOUND -p tcp --dport 3306 -j ISTIO_IN_REDIRECT
iptables -t nat -A ISTIO_INBOUND -p tcp --dport 9080 -j ISTIO_IN_REDIRECT
iptables -t nat -N ISTIO_OUTPUT
iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT
iptables -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -j ISTIO_REDIRECT
iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 999 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 0 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 999 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 0 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -d 10.63.240.0/20 -j ISTIO_REDIRECT
iptables -t nat -A ISTIO_OUTPUT -j RETURN
ip6tables -F INPUT
ip6tables -A INPUT -m state --state ESTABLISHED -j ACCEPT
ip6tables -A INPUT -j REJECT
";
        assert_eq!(script(&config), want);
    }

    #[test]
    fn wildcard_inbound_always_spares_ssh() {
        let config = Config {
            inbound_ports_include: "*".into(),
            inbound_ports_exclude: "15090,15021".into(),
            enable_ipv6: true,
            ..Config::legacy()
        };
        let text = script(&config);
        let inbound: Vec<&str> = text.lines().filter(|l| l.contains("-A ISTIO_INBOUND")).collect();
        assert_eq!(
            inbound,
            [
                "iptables -t nat -A ISTIO_INBOUND -p tcp --dport 22 -j RETURN",
                "iptables -t nat -A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN",
                "iptables -t nat -A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN",
                "iptables -t nat -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT",
            ]
        );
        assert!(!text.contains("ip6tables"), "IPv6 on: no lockdown");
    }

    #[test]
    fn tproxy_writes_policy_routing_and_socket_rules() {
        let config = Config {
            inbound_ports_include: "9080".into(),
            inbound_interception_mode: InterceptionMode::Tproxy,
            ..Config::legacy()
        };
        let text = script(&config);
        let head: Vec<&str> = text.lines().skip(4).take(11).collect();
        assert_eq!(
            head,
            [
                "iptables -t mangle -N ISTIO_DIVERT",
                "iptables -t mangle -A ISTIO_DIVERT -j MARK --set-mark 1337",
                "iptables -t mangle -A ISTIO_DIVERT -j ACCEPT",
                "ip -f inet rule add fwmark 1337 lookup 133",
                "ip -f inet route add local default dev lo table 133",
                "iptables -t mangle -N ISTIO_TPROXY",
                "iptables -t mangle -A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15001",
                "iptables -t mangle -N ISTIO_INBOUND",
                "iptables -t mangle -A PREROUTING -p tcp -j ISTIO_INBOUND",
                "iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 9080 -m socket -j ISTIO_DIVERT",
                "iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 9080 -m socket -j ISTIO_DIVERT",
            ]
        );
    }
}
