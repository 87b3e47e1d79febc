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
//! * What istio-iptables reads on the machine is read when the rules are
//!   applied: the ids of user `istio-proxy` (1337 without it), unless the
//!   bundle pins them, and the `nameserver` addresses of `/etc/resolv.conf`
//!   (only literal IPv4/IPv6 addresses; anything else is ignored), unless
//!   the bundle pins them or captures all DNS. `show` prints the rules
//!   `apply` would load; `apply` keeps what it loaded under `/run/meshc`
//!   (per network namespace), so that `clean` removes exactly that even
//!   after resolv.conf or the user changed.
//! * `clean` also removes the chains of every istio-iptables generation
//!   (`ISTIO_OUTPUT_DNS`, raw `ISTIO_OUTPUT`, …) and any jump into them.
//!
//! The script acts on the network namespace it runs in (`ip netns exec NS
//! iptables.sh apply` targets another; there is no `--netns` of its own),
//! reads its rules from its own directory, and honours `IPTABLES` /
//! `IP6TABLES` to pick other binaries (`iptables-legacy`, `iptables-nft`),
//! loading with their `-restore` twins. Everything interpolated into it is
//! single-quoted ([`posix_single_quote`]).

use super::iptables_rules::{Capture, DNS, PROXY_GID, PROXY_UID, Payload};
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
         #   iptables.sh show    print the rules apply would load on this machine\n\
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
    let uid = if capture.resolve_uid {
        String::new()
    } else {
        uid.to_string()
    };
    let gid = if capture.resolve_gid {
        String::new()
    } else {
        gid.to_string()
    };
    out.push_str(&format!(
        "here=$(cd -- \"$(dirname -- \"${{BASH_SOURCE[0]}}\")\" && pwd)\n\
         iptables=${{IPTABLES:-iptables}}\n\
         {ip6tables}\
         vm={vm}\n\
         # The proxy's user, whose traffic the rules let through: pinned here, or\n\
         # (empty) the ids of user istio-proxy when the rules are applied.\n\
         proxy_uid={uid}\n\
         proxy_gid={gid}\n\
         # Whether the DNS servers are the nameservers of /etc/resolv.conf.\n\
         resolv_dns={resolv}\n\
         state_dir=/run/meshc\n\
         uid_token={uid_token}\n\
         gid_token={gid_token}\n\
         dns_token={dns_token}\n\
         dns4=()\n\
         dns6=()\n\
         families=({families})\n\n",
        vm = q(vm),
        ip6tables = if ipv6 {
            "ip6tables=${IP6TABLES:-ip6tables}\n"
        } else {
            ""
        },
        uid = q(&uid),
        gid = q(&gid),
        resolv = capture.resolve_dns,
        uid_token = q(PROXY_UID),
        gid_token = q(PROXY_GID),
        dns_token = q(DNS),
        families = if ipv6 { "4 6" } else { "4" },
    ));
    out.push_str(HELPERS);

    out.push_str("clean() {\n");
    push_clean(&mut out, "\"$iptables\"", 4, &capture.v4);
    if let Some(v6) = &capture.v6 {
        push_clean(&mut out, "\"$ip6tables\"", 6, v6);
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
        "# Loads the rules kept by apply; returns non-zero at the first step that fails.\n\
         load() {\n\
         \t\"${iptables}-restore\" -w --noflush <\"$(state 4)\" || return 1\n",
    );
    if ipv6 {
        out.push_str("\t\"${ip6tables}-restore\" -w --noflush <\"$(state 6)\" || return 1\n");
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
         # Prints the rules apply loads on this machine: one family (4 or 6), or each.\n\
         show() {\n\
         \tresolve\n\
         \tlocal family\n\
         \tfor family in \"${families[@]}\"; do\n\
         \t\tif [ -z \"${1-}\" ] || [ \"$1\" = \"$family\" ]; then\n\
         \t\t\trules \"$family\" \"$here/$(rules_file \"$family\")\"\n\
         \t\tfi\n\
         \tdone\n\
         }\n\n\
         apply() {\n\
         \tresolve\n\
         \tlocal family\n\
         \tlocal -a new\n\
         \tfor family in \"${families[@]}\"; do\n\
         \t\tnew[family]=$(rules \"$family\" \"$here/$(rules_file \"$family\")\")\n\
         \tdone\n\
         \tclean\n\
         \tmkdir -p \"$state_dir\"\n\
         \tchmod 0700 \"$state_dir\"\n\
         \tfor family in \"${families[@]}\"; do\n\
         \t\tprintf '%s\\n' \"${new[family]}\" >\"$(state \"$family\")\"\n\
         \tdone\n\
         \tif ! load; then\n\
         \t\tclean\n\
         \t\tdie 'loading the rules failed; whatever was loaded is removed again'\n\
         \tfi\n\
         }\n\n",
    );
    out.push_str(MAIN);
    out
}

fn families(ipv6: bool) -> &'static [&'static str] {
    if ipv6 { &["inet", "inet6"] } else { &["inet"] }
}

/// The chains each generation of istio-iptables creates, by table: `clean`
/// removes them all, so that rules left by another release go too.
const GENERATIONS: [(&str, &[&str]); 3] = [
    (
        "mangle",
        &["ISTIO_INBOUND", "ISTIO_DIVERT", "ISTIO_TPROXY", "ISTIO_DROP"],
    ),
    (
        "nat",
        &[
            "ISTIO_INBOUND",
            "ISTIO_REDIRECT",
            "ISTIO_IN_REDIRECT",
            "ISTIO_OUTPUT",
            "ISTIO_OUTPUT_DNS",
        ],
    ),
    ("raw", &["ISTIO_OUTPUT", "ISTIO_OUTPUT_DNS", "ISTIO_INBOUND"]),
];

/// The hooks of what was loaded (or would be), then one `drop_chains` per
/// table: the payload's chains and every generation's.
fn push_clean(out: &mut String, binary: &str, family: u8, payload: &Payload) {
    let file = if family == 6 {
        "iptables6.rules"
    } else {
        "iptables.rules"
    };
    out.push_str(&format!(
        "\tif [ -e \"$(state {family})\" ]; then\n\
         \t\tdrop_hooks {binary} <\"$(state {family})\"\n\
         \telse\n\
         \t\tdrop_hooks {binary} < <(resolve && rules {family} \"$here/{file}\")\n\
         \tfi\n\
         \t# 1.23 and 1.24 mark resolver replies in raw PREROUTING itself.\n\
         \tdrop_matching {binary} raw '^-A PREROUTING (.* )?--sport 53 -j CT --zone 1$'\n"
    ));
    let mut tables: Vec<(&str, Vec<&str>)> = GENERATIONS.iter().map(|(t, c)| (*t, c.to_vec())).collect();
    for table in &payload.tables {
        // Only Istio's chains, whatever the payload says: clean must never
        // delete a chain another program owns.
        let chains = table
            .chains
            .iter()
            .map(String::as_str)
            .filter(|c| c.starts_with("ISTIO_"));
        match tables.iter_mut().find(|(t, _)| *t == table.name) {
            Some((_, known)) => {
                for chain in chains {
                    if !known.contains(&chain) {
                        known.push(chain);
                    }
                }
            }
            None => tables.push((&table.name, chains.collect())),
        }
    }
    for (table, chains) in tables {
        out.push_str(&format!(
            "\tdrop_chains {binary} {} {}\n",
            q(table),
            q(&chains.join(" "))
        ));
    }
    out.push_str(&format!("\trm -f -- \"$(state {family})\"\n"));
}

const HELPERS: &str = r#"die() {
	printf 'iptables.sh: %s\n' "$*" >&2
	exit 1
}

usage() {
	printf 'usage: %s apply|clean|show [4|6]\n' "$0"
}

# drop_rule BINARY TABLE 'CHAIN MATCH... -j TARGET': deletes every copy of one rule.
drop_rule() {
	local binary=$1 table=$2 spec
	read -r -a spec <<<"$3"
	while "$binary" -w -t "$table" -C "${spec[@]}" 2>/dev/null; do
		"$binary" -w -t "$table" -D "${spec[@]}"
	done
}

# drop_matching BINARY TABLE ERE: deletes the rules of `-S` that match (an
# istio-iptables rule in a built-in chain, of any generation).
drop_matching() {
	local binary=$1 table=$2 rule spec
	while read -r rule; do
		read -r -a spec <<<"${rule#-A }"
		"$binary" -w -t "$table" -D "${spec[@]}"
	done < <("$binary" -w -t "$table" -S 2>/dev/null | grep -E "$3" || true)
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

# drop_hooks BINARY <RULES: deletes the rules that restore input adds to
# built-in chains (the jumps into ISTIO_* chains, and the rest).
drop_hooks() {
	local binary=$1 line table='' spec
	while IFS= read -r line; do
		case $line in
		'* '*) table=${line#'* '} ;;
		'-A '* | '-I '*)
			read -r -a spec <<<"$line"
			case ${spec[1]} in
			PREROUTING | INPUT | FORWARD | OUTPUT | POSTROUTING) ;;
			*) continue ;;
			esac
			if [ "${spec[0]}" = -I ]; then
				spec=("${spec[1]}" "${spec[@]:3}")
			else
				spec=("${spec[@]:1}")
			fi
			drop_rule "$binary" "$table" "${spec[*]}"
			;;
		esac
	done
}

# The proxy's ids: pinned, else those of user istio-proxy (whoever the sidecar
# package created), else 1337, as istio-iptables looks them up. The gid is the
# user's group, which the package's setgid binaries run as.
resolve_ids() {
	if [ -z "$proxy_uid" ]; then
		proxy_uid=$(id -u istio-proxy 2>/dev/null) || proxy_uid=1337
	fi
	if [ -z "$proxy_gid" ]; then
		proxy_gid=$(id -g istio-proxy 2>/dev/null) || proxy_gid=1337
	fi
	case $proxy_uid in '' | *[!0-9]*) die "vm $vm: not a uid: $proxy_uid" ;; esac
	case $proxy_gid in '' | *[!0-9]*) die "vm $vm: not a gid: $proxy_gid" ;; esac
}

octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
is_ipv4() {
	[[ $1 =~ ^($octet\.){3}$octet$ ]]
}

# hex_groups 'a:b:c': how many 1-4 digit hex groups; fails if malformed.
hex_groups() {
	local re='^[0-9A-Fa-f]{1,4}(:[0-9A-Fa-f]{1,4})*$' colons
	if [ -z "$1" ]; then
		echo 0
		return 0
	fi
	[[ $1 =~ $re ]] || return 1
	colons=${1//[!:]/}
	echo $((${#colons} + 1))
}

is_ipv6() {
	local a=$1 head tail
	[[ $a == *:* && $a =~ ^[0-9A-Fa-f:.]+$ ]] || return 1
	if [[ $a == *.* ]]; then
		is_ipv4 "${a##*:}" || return 1
		a="${a%:*}:0:0"
	fi
	if [[ $a == *::* ]]; then
		tail=${a#*::}
		[[ $tail == *::* ]] && return 1
		head=$(hex_groups "${a%%::*}") || return 1
		tail=$(hex_groups "$tail") || return 1
		[ $((head + tail)) -le 7 ]
	else
		head=$(hex_groups "$a") || return 1
		[ "$head" -eq 8 ]
	fi
}

# The nameservers of /etc/resolv.conf, as istio-iptables reads them: literal
# IPv4 and IPv6 addresses only, anything else ignored.
read_resolv_conf() {
	local key value
	dns4=()
	dns6=()
	[ -r /etc/resolv.conf ] || return 0
	while read -r key value _ || [ -n "$key" ]; do
		[ "$key" = nameserver ] || continue
		if is_ipv4 "$value"; then
			dns4+=("$value")
		elif is_ipv6 "$value"; then
			dns6+=("${value,,}")
		fi
	done </etc/resolv.conf
}

resolve() {
	resolve_ids
	if [ "$resolv_dns" = true ]; then
		read_resolv_conf
	fi
}

rules_file() {
	if [ "$1" = 6 ]; then echo iptables6.rules; else echo iptables.rules; fi
}

# Where apply keeps what it loaded into this network namespace.
state() {
	printf '%s/iptables-%s-v%s.rules' "$state_dir" "$(stat -L -c %i /proc/self/ns/net)" "$1"
}

# rules FAMILY FILE: the restore input of FILE for this machine: ids filled
# in, each #@each-dns block once per server of the family, the #@when section
# that fits (some: servers of this family; other: only of the other; none).
rules() {
	local family=$1 file=$2 servers=() other line want active=true in_block=false block=() server b
	if [ "$family" = 6 ]; then
		servers=("${dns6[@]}")
		other=${#dns4[@]}
	else
		servers=("${dns4[@]}")
		other=${#dns6[@]}
	fi
	if [ "${#servers[@]}" -gt 0 ]; then
		want=some
	elif [ "$other" -gt 0 ]; then
		want=other
	else
		want=none
	fi
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		'#@when '*)
			if [ "${line#'#@when '}" = "$want" ]; then
				active=true
			else
				active=false
			fi
			continue
			;;
		esac
		[ "$active" = true ] || continue
		case $line in
		'#@each-dns')
			in_block=true
			block=()
			continue
			;;
		'#@end')
			in_block=false
			for server in "${servers[@]}"; do
				for b in "${block[@]}"; do
					printf '%s\n' "${b//"$dns_token"/$server}"
				done
			done
			continue
			;;
		'#'* | '') continue ;;
		esac
		line=${line//"$uid_token"/$proxy_uid}
		line=${line//"$gid_token"/$proxy_gid}
		if [ "$in_block" = true ]; then
			block+=("$line")
		else
			printf '%s\n' "$line"
		fi
	done <"$file"
}

"#;

const MAIN: &str = r#"if [ "$(id -u)" -ne 0 ]; then
	die 'must run as root'
fi
case ${1-} in
apply) apply ;;
clean) clean ;;
show) show "${2-}" ;;
-h | --help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
"#;
