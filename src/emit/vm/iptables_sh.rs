//! `iptables.sh`: loads a VM's capture rules and takes exactly them out
//! again.
//!
//! * `apply` is idempotent: it runs `clean` first, then
//!   `iptables-restore --noflush` (and `ip6tables-restore` when the VM
//!   captures IPv6); if loading fails half-way it cleans up again, so the
//!   machine is never left with half the rules. In TPROXY mode it also adds
//!   the policy route that brings marked packets to the proxy (istio-iptables
//!   does that outside iptables: the 1.0 script with `ip rule`, later
//!   releases in Go).
//! * `clean` deletes every rule the payload adds to a built-in chain (each
//!   copy, matched exactly with `-C`), then flushes and deletes the chains
//!   the payload creates, all `ISTIO_*`; nothing else is touched, so rules
//!   of other software survive.
//! * Before loading, `apply` refuses to run when the `istio-proxy` user
//!   exists with another uid or gid than the rules let through: Envoy's own
//!   traffic would be captured again and loop.
//!
//! The script acts on the network namespace it runs in (`ip netns exec NS
//! iptables.sh apply` targets another; there is no `--netns` of its own),
//! reads its rules from its own directory, and honours `IPTABLES` /
//! `IP6TABLES` to pick other binaries (`iptables-legacy`, `iptables-nft`),
//! loading with their `-restore` twins. Everything interpolated into it is
//! single-quoted ([`posix_single_quote`]).

use super::iptables_rules::{Capture, Payload};
use super::plan::VmPlan;
use super::quote::posix_single_quote as q;
use super::text::{comment_text, header};
use crate::iptables::InterceptionMode;

/// The script for `plan`'s VM.
pub fn iptables_sh(plan: &VmPlan<'_>, capture: &Capture, source_name: &str) -> String {
    let vm = &plan.vm.name.value;
    let ipv6 = capture.v6.is_some();
    let tproxy = capture.config.inbound_interception_mode == InterceptionMode::Tproxy;
    let mut out = String::from("#!/usr/bin/env bash\n");
    out.push_str(&header(source_name));
    out.push_str(&format!(
        "#\n\
         # Traffic capture of VM {vm_comment}: loads iptables.rules{v6_comment} from this\n\
         # directory, the rules istio-iptables of Istio {istio} installs for this VM's\n\
         # sidecar.env, and removes exactly what they add.\n\
         #\n\
         #   iptables.sh apply   remove these rules if present, then load them (idempotent)\n\
         #   iptables.sh clean   remove the ISTIO_* chains and the rules that lead to them\n\
         #\n\
         # Root only. It acts on the network namespace it runs in: `ip netns exec NS\n\
         # iptables.sh apply` targets another. IPTABLES and IP6TABLES name other\n\
         # binaries (iptables-legacy, iptables-nft); their -restore twins load the rules.\n\
         set -euo pipefail\n\n",
        vm_comment = comment_text(vm),
        v6_comment = if ipv6 { " and iptables6.rules" } else { "" },
        istio = plan.istio,
    ));
    let (uid, gid) = (plan.vm.proxy_uid(), plan.vm.proxy_gid());
    out.push_str(&format!(
        "here=$(cd -- \"$(dirname -- \"${{BASH_SOURCE[0]}}\")\" && pwd)\n\
         iptables=${{IPTABLES:-iptables}}\n\
         {ip6tables}\
         vm={vm}\n\
         # The proxy's user, whose traffic the rules let through.\n\
         proxy_uid={uid}\n\
         proxy_gid={gid}\n\n",
        vm = q(vm),
        ip6tables = if ipv6 {
            "ip6tables=${IP6TABLES:-ip6tables}\n"
        } else {
            ""
        },
        uid = q(&uid.to_string()),
        gid = q(&gid.to_string()),
    ));
    out.push_str(HELPERS);

    out.push_str("clean() {\n");
    push_clean(&mut out, "\"$iptables\"", &capture.v4);
    if let Some(v6) = &capture.v6 {
        push_clean(&mut out, "\"$ip6tables\"", v6);
    }
    if tproxy {
        let (mark, table) = (
            q(&capture.config.inbound_tproxy_mark),
            q(&capture.config.inbound_tproxy_route_table),
        );
        for family in families(ipv6) {
            out.push_str(&format!(
                "\twhile ip -f {family} rule del fwmark {mark} lookup {table} 2>/dev/null; do :; done\n\
                 \tip -f {family} route del local default dev lo table {table} 2>/dev/null || true\n"
            ));
        }
    }
    out.push_str("}\n\n");

    // `load` runs as an `if` condition, where `set -e` is off: every step
    // returns on failure by itself.
    out.push_str(
        "# Loads the rules; returns non-zero at the first step that fails.\n\
         load() {\n\
         \t\"${iptables}-restore\" -w --noflush <\"$here/iptables.rules\" || return 1\n",
    );
    if ipv6 {
        out.push_str("\t\"${ip6tables}-restore\" -w --noflush <\"$here/iptables6.rules\" || return 1\n");
    }
    if tproxy {
        let (mark, table) = (
            q(&capture.config.inbound_tproxy_mark),
            q(&capture.config.inbound_tproxy_route_table),
        );
        out.push_str("\t# TPROXY-marked packets are routed to lo, where the proxy's transparent listener takes them.\n");
        for family in families(ipv6) {
            out.push_str(&format!(
                "\tip -f {family} rule add fwmark {mark} lookup {table} || return 1\n\
                 \tip -f {family} route add local default dev lo table {table} || return 1\n"
            ));
        }
    }
    out.push_str(
        "}\n\n\
         apply() {\n\
         \tcheck_proxy_user\n\
         \tclean\n\
         \tif ! load; then\n\
         \t\tclean\n\
         \t\tdie 'loading the rules failed; whatever was loaded is removed again'\n\
         \tfi\n",
    );
    out.push_str("}\n\n");
    out.push_str(MAIN);
    out
}

fn families(ipv6: bool) -> &'static [&'static str] {
    if ipv6 { &["inet", "inet6"] } else { &["inet"] }
}

/// `drop_rule` per hook, then one `drop_chains` per table.
fn push_clean(out: &mut String, binary: &str, payload: &Payload) {
    for table in &payload.tables {
        for hook in &table.hooks {
            out.push_str(&format!("\tdrop_rule {binary} {} {}\n", q(&table.name), q(hook)));
        }
        // Only Istio's chains, whatever the payload says: clean must never
        // delete a chain another program owns.
        let chains: Vec<&str> = table
            .chains
            .iter()
            .map(String::as_str)
            .filter(|c| c.starts_with("ISTIO_"))
            .collect();
        if !chains.is_empty() {
            out.push_str(&format!(
                "\tdrop_chains {binary} {} {}\n",
                q(&table.name),
                q(&chains.join(" "))
            ));
        }
    }
}

const HELPERS: &str = r#"die() {
	printf 'iptables.sh: %s\n' "$*" >&2
	exit 1
}

usage() {
	printf 'usage: %s apply|clean\n' "$0"
}

# drop_rule BINARY TABLE 'CHAIN MATCH... -j TARGET': deletes every copy of one rule.
drop_rule() {
	local binary=$1 table=$2 spec
	read -r -a spec <<<"$3"
	while "$binary" -w -t "$table" -C "${spec[@]}" 2>/dev/null; do
		"$binary" -w -t "$table" -D "${spec[@]}"
	done
}

# drop_chains BINARY TABLE 'CHAIN...': flushes, then deletes, those that exist
# (all flushed first, since they jump to one another).
drop_chains() {
	local binary=$1 table=$2 chain chains rule spec
	read -r -a chains <<<"$3"
	# Jumps into these chains in another shape than ours (istio-iptables
	# 1.23 and the 1.0 script wrote `-A OUTPUT -p tcp -j ISTIO_OUTPUT`)
	# would keep them alive; they are Istio's, so they go too.
	for chain in "${chains[@]}"; do
		while read -r rule; do
			read -r -a spec <<<"${rule#-A }"
			"$binary" -w -t "$table" -D "${spec[@]}"
		done < <("$binary" -w -t "$table" -S 2>/dev/null |
			grep -E "^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) (.* )?-j ${chain}\$" || true)
	done
	for chain in "${chains[@]}"; do
		if "$binary" -w -t "$table" -S "$chain" >/dev/null 2>&1; then
			"$binary" -w -t "$table" -F "$chain"
		fi
	done
	for chain in "${chains[@]}"; do
		if "$binary" -w -t "$table" -S "$chain" >/dev/null 2>&1; then
			"$binary" -w -t "$table" -X "$chain"
		fi
	done
}

# Envoy runs as istio-proxy: if that user's ids are not the ones the rules let
# through, the proxy's own traffic would be captured again, in a loop.
check_proxy_user() {
	local id
	if id=$(id -u istio-proxy 2>/dev/null) && [ "$id" != "$proxy_uid" ]; then
		die "user istio-proxy has uid $id, the rules expect $proxy_uid: set proxy-uid on vm $vm and rebuild"
	fi
	if id=$(id -g istio-proxy 2>/dev/null) && [ "$id" != "$proxy_gid" ]; then
		die "user istio-proxy has gid $id, the rules expect $proxy_gid: set proxy-gid on vm $vm and rebuild"
	fi
}

"#;

const MAIN: &str = r#"if [ "$(id -u)" -ne 0 ]; then
	die 'must run as root'
fi
case ${1-} in
apply) apply ;;
clean) clean ;;
-h | --help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
"#;
