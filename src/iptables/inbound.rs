//! Inbound capture (`-b`, `-d`, `-m`): which ports reach the proxy, through
//! nat `REDIRECT` or through mangle `TPROXY`.

use super::builder::{Log, RuleBuilder};
use super::capture::{ISTIO_INBOUND, MANGLE, NAT, V6_LOOPBACK};
use super::config::{Config, InterceptionMode, split, split_all};
use super::outbound::Owner;

/// The mark the proxy's outbound-to-app traffic on lo gets in TPROXY mode,
/// so that inbound capture can tell it from app-to-app traffic.
const OUTBOUND_MARK: &str = "1338";
/// Packets of an established connection only need diverting to lo.
const ESTABLISHED: &str = "-m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT";

/// `PREROUTING` → `ISTIO_INBOUND` and the per-port rules. An empty `-b`
/// captures nothing inbound and writes nothing here.
pub(crate) fn ports(b: &mut RuleBuilder, config: &Config) {
    let include = config.inbound_ports_include.as_str();
    if include.is_empty() {
        return;
    }
    let tproxy = config.inbound_interception_mode == InterceptionMode::Tproxy;
    let table = if tproxy { MANGLE } else { NAT };
    if tproxy {
        tproxy_chains(b, config);
    }
    b.traced(Log::JumpInbound)
        .append(table, "PREROUTING", "-p tcp -j ISTIO_INBOUND");

    if include == "*" {
        for port in split(&config.inbound_ports_exclude) {
            let rule = format!("-p tcp --dport {port} -j RETURN");
            b.traced(Log::ExcludeInboundPort)
                .append(table, ISTIO_INBOUND, &rule);
        }
        if tproxy {
            b.append(MANGLE, ISTIO_INBOUND, &format!("-p tcp {ESTABLISHED}"));
            b.append(MANGLE, ISTIO_INBOUND, "-p tcp -j ISTIO_TPROXY");
        } else {
            b.append(NAT, ISTIO_INBOUND, "-p tcp -j ISTIO_IN_REDIRECT");
        }
        return;
    }
    // A port list: `-d` is not read.
    for port in split(include) {
        let mut b = b.traced(Log::IncludeInboundPort);
        if tproxy {
            b.append(
                MANGLE,
                ISTIO_INBOUND,
                &format!("-p tcp --dport {port} {ESTABLISHED}"),
            );
            b.append(
                MANGLE,
                ISTIO_INBOUND,
                &format!("-p tcp --dport {port} -j ISTIO_TPROXY"),
            );
        } else {
            b.append(
                NAT,
                ISTIO_INBOUND,
                &format!("-p tcp --dport {port} -j ISTIO_IN_REDIRECT"),
            );
        }
    }
}

/// `ISTIO_DIVERT` marks a packet, which the policy route Istio sets up
/// outside iptables sends to lo; `ISTIO_TPROXY` hands a new connection to
/// the proxy's transparent socket.
fn tproxy_chains(b: &mut RuleBuilder, config: &Config) {
    let mark = &config.inbound_tproxy_mark;
    b.append(MANGLE, "ISTIO_DIVERT", &format!("-j MARK --set-mark {mark}"));
    b.append(MANGLE, "ISTIO_DIVERT", "-j ACCEPT");
    let port = &config.inbound_capture_port;
    let loopback = (config.host_ipv4_loopback_cidr.as_str(), V6_LOOPBACK);
    b.append_versioned(MANGLE, "ISTIO_TPROXY", loopback, |ip| {
        format!("! -d {ip} -p tcp -j TPROXY --tproxy-mark {mark}/0xffffffff --on-port {port}")
    });
}

/// The TPROXY bookkeeping at the end of a run: carry the mark across a
/// connection with CONNMARK, mark the proxy's own traffic to local apps,
/// and keep both out of inbound capture.
pub(crate) fn tproxy_marks(b: &mut RuleBuilder, config: &Config) {
    let mark = &config.inbound_tproxy_mark;
    b.append(
        MANGLE,
        "PREROUTING",
        &format!("-p tcp -m mark --mark {mark} -j CONNMARK --save-mark"),
    );
    // Already marked envoy → app traffic must not be marked again.
    b.append(
        MANGLE,
        "OUTPUT",
        &format!("-p tcp -o lo -m mark --mark {mark} -j RETURN"),
    );
    let loopback = (config.host_ipv4_loopback_cidr.as_str(), V6_LOOPBACK);
    for (owner, ids) in [(Owner::Uid, &config.proxy_uid), (Owner::Gid, &config.proxy_gid)] {
        for id in split_all(ids) {
            let flag = owner.flag();
            b.append_versioned(MANGLE, "OUTPUT", loopback, |ip| {
                format!("! -d {ip} -p tcp -o lo -m owner {flag} {id} -j MARK --set-mark {OUTBOUND_MARK}")
            });
        }
    }
    b.append(
        MANGLE,
        "OUTPUT",
        &format!("-p tcp -m connmark --mark {mark} -j CONNMARK --restore-mark"),
    );
    // Guards at the top of ISTIO_INBOUND: no redirect loop, nothing from the
    // proxy's passthrough address, nothing app-to-app over lo.
    b.insert(
        MANGLE,
        ISTIO_INBOUND,
        1,
        &format!("-p tcp -m mark --mark {mark} -j RETURN"),
    );
    b.insert_v4(MANGLE, ISTIO_INBOUND, 2, "-p tcp -s 127.0.0.6/32 -i lo -j RETURN");
    b.insert_v6(MANGLE, ISTIO_INBOUND, 2, "-p tcp -s ::6/128 -i lo -j RETURN");
    let app_to_app = format!("-p tcp -i lo -m mark ! --mark {OUTBOUND_MARK} -j RETURN");
    b.insert(MANGLE, ISTIO_INBOUND, 3, &app_to_app);
}
