//! `install.sh`: puts a VM bundle in place on the VM, and takes it out again.
//!
//! `install` (the default): creates the `istio-proxy` user with the uid and
//! gid the capture rules let through when it does not exist yet (Istio's
//! package keeps an existing user; left to itself it picks free ids, and
//! the rules would then capture Envoy's own traffic), refusing in the modern
//! flow when it exists with other ids; copies every file to where Istio's
//! VM guide puts it (a file there that meshc did not write, such as the
//! package's commented `sidecar.env` template, is kept as
//! `<file>.meshc-orig` for `uninstall` to put back); writes the `hosts`
//! lines into `/etc/hosts` between two marker lines, replacing the block of
//! an earlier run rather than adding a second; with dnsmasq, prepends
//! 127.0.0.1 to the DHCP-provided resolvers (as 1.0's `setupIstioVM.sh`
//! did, also between markers); hands the directories the agent writes to
//! istio-proxy, as the VM guides do; then restarts dnsmasq and istio (when
//! systemd runs). In the modern flow the capture rules come with a
//! systemd drop-in that loads them before the agent starts and removes them
//! when it stops; the legacy `istio-start.sh` always runs its own
//! `istio-iptables.sh` from the installed env files, which gives the same
//! rules, so nothing else is wired there. istio is (re)started only when its
//! credentials are in place: rules without a running proxy would black-hole
//! the VM's traffic.
//!
//! Credentials are never generated: `fetch-credentials.sh` fetches them on
//! the operator's machine into the bundle directory (a token for the service
//! account and the mesh root certificate in the modern flow, Citadel's
//! `istio.<sa>` secret in the legacy one), and `install.sh` installs them
//! from there when present; otherwise it prints the `kubectl` commands, or
//! runs them on the VM with `--fetch-credentials`. With the credentials in
//! place it enables the sidecar's unit (and 1.0's node agent), which the
//! packages install disabled, so that the VM rejoins after a reboot.
//! `rebootstrap` brings back a VM whose certificate expired while it was
//! down (see `MODERN_REBOOTSTRAP`).
//!
//! `uninstall` stops istio, disables the units `install` enabled (and no
//! other), removes the rules, every installed file (restoring the ones it
//! replaced), both marker blocks and the drop-in, and restarts dnsmasq; it
//! leaves the user and the credentials.
//!
//! `--root DIR` (or `MESHC_ROOT=DIR`) installs under `DIR` instead of `/`:
//! no user, service or iptables is touched, so, unlike a real install, it
//! does not require root. Tests and packaging use it.
//!
//! Every value interpolated into the script is single-quoted
//! ([`posix_single_quote`]) in one block of variables at its top.

use super::plan::VmPlan;
use super::quote::posix_single_quote as q;
use super::text::{comment_text, header};
use crate::model::Flow;

/// A bundle file and where `install.sh` puts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The file's name in the bundle directory.
    pub file: &'static str,
    /// Its absolute path on the VM.
    pub dest: &'static str,
    /// Its octal permission bits.
    pub mode: &'static str,
}

/// Where `iptables.sh` and the rules go: root-owned, outside istio-proxy's
/// home (`/var/lib/istio`), since systemd runs the script as root.
pub const LIB_DIR: &str = "/usr/local/lib/meshc";
/// `iptables.rules` in [`LIB_DIR`], beside the script that loads it.
pub const RULES_PATH: &str = "/usr/local/lib/meshc/iptables.rules";
/// `iptables6.rules` in [`LIB_DIR`].
pub const RULES6_PATH: &str = "/usr/local/lib/meshc/iptables6.rules";
/// `iptables.sh` in [`LIB_DIR`].
pub const IPTABLES_SH_PATH: &str = "/usr/local/lib/meshc/iptables.sh";
/// The systemd drop-in that runs `iptables.sh` around `istio.service`.
pub const DROP_IN: &str = "/etc/systemd/system/istio.service.d/meshc-iptables.conf";

/// What the script does beyond copying files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extras {
    /// The bundle's `hosts` has lines for `/etc/hosts`.
    pub hosts: bool,
    /// The bundle has a dnsmasq file.
    pub dnsmasq: bool,
}

/// The script for `plan`'s VM.
pub fn install_sh(plan: &VmPlan<'_>, placements: &[Placement], extras: Extras, source_name: &str) -> String {
    let modern = plan.flow == Flow::Modern;
    let vm = &plan.vm.name.value;
    let mut out = String::from("#!/usr/bin/env bash\n");
    out.push_str(&header(source_name));
    let flow = if modern {
        "WorkloadEntry flow"
    } else {
        "mesh-expansion flow"
    };
    out.push_str(&format!(
        "#\n\
         # Installs the mesh-expansion files of VM {vm_comment} (Istio {istio}, {flow}).\n\
         #\n\
         #   install.sh [install] [--root DIR] [--fetch-credentials]\n\
         #   install.sh rebootstrap [--root DIR]\n\
         #   install.sh uninstall [--root DIR]\n\
         #\n\
         # Run it as root on the VM, from this directory, after installing Istio's\n\
         # sidecar package. It creates the istio-proxy user if missing, copies each\n\
         # file into place, adds the hosts lines to /etc/hosts between marker lines\n\
         # (replaced, never duplicated, on a second run), installs the credentials\n\
         # fetch-credentials.sh left in this directory, restarts what reads the files\n\
         # and, with the credentials in place, enables {units} at boot.\n\
         # `rebootstrap` brings back a VM that was down longer than its certificate\n\
         # lived: run fetch-credentials.sh again on the operator's machine, copy its\n\
         # files here, then run it.\n\
         # `uninstall` reverses it all but the user and the credentials.\n\
         # --root DIR (or MESHC_ROOT=DIR) installs under DIR instead of /, touching\n\
         # no user, service or iptables rule, and needs no root.\n\
         set -euo pipefail\n\n",
        vm_comment = comment_text(vm),
        istio = plan.istio,
        units = units(modern)
            .iter()
            .map(|u| format!("{u}.service"))
            .collect::<Vec<_>>()
            .join(" and "),
    ));

    let cluster = plan.home.name.value.as_str();
    out.push_str(&format!(
        "here=$(cd -- \"$(dirname -- \"${{BASH_SOURCE[0]}}\")\" && pwd)\n\
         vm={vm}\n\
         cluster={cluster}\n\
         namespace={namespace}\n\
         service_account={sa}\n\
         proxy_uid={uid}\n\
         proxy_gid={gid}\n\
         lib={lib}\n\
         block_begin='# BEGIN meshc VM bundle (install.sh uninstall removes this block)'\n\
         block_end='# END meshc VM bundle'\n\n",
        vm = q(vm),
        cluster = q(cluster),
        namespace = q(plan.identity.namespace.as_str()),
        sa = q(plan.identity.service_account.as_str()),
        uid = q(&plan.vm.proxy_uid().to_string()),
        gid = q(&plan.vm.proxy_gid().to_string()),
        lib = q(LIB_DIR),
    ));
    out.push_str(HELPERS);
    out.push_str(if modern {
        MODERN_CREDENTIALS
    } else {
        LEGACY_CREDENTIALS
    });
    // Where the agent writes (certificates, Envoy's bootstrap) and what it
    // reads as istio-proxy (credentials put there by hand as root): Istio's
    // VM guides hand these to istio-proxy.
    let dirs: &[&str] = if modern {
        &["/etc/certs", "/etc/istio/proxy", "/var/run/secrets/tokens"]
    } else {
        &["/etc/certs"]
    };
    out.push_str(
        "# The directories the agent writes to, and the credentials it reads.\nown_agent_dirs() {\n",
    );
    for dir in dirs {
        out.push_str(&format!(
            "\tmkdir -p -- {dir}\n\tchown -R istio-proxy:istio-proxy -- {dir}\n",
            dir = q(dir)
        ));
    }
    out.push_str("}\n\n");
    out.push_str(&ensure_proxy_user(
        modern,
        plan.vm.proxy_uid.is_some() || plan.vm.proxy_gid.is_some(),
    ));
    out.push_str(&restart_services(modern, extras));
    out.push_str(&enable_units(modern));
    out.push_str(&do_install(placements, extras));
    out.push_str(if modern {
        MODERN_REBOOTSTRAP
    } else {
        LEGACY_REBOOTSTRAP
    });
    out.push_str(&do_uninstall(placements, extras));
    out.push_str(MAIN);
    out
}

/// The units install.sh enables: the sidecar's, and in the legacy flow 1.0's
/// node agent, which serves it its certificates. Istio's packages install
/// them disabled (`tools/packaging/packaging.mk` leaves out
/// `--deb-systemd`), so without this a VM leaves the mesh at its first
/// reboot.
fn units(modern: bool) -> &'static [&'static str] {
    if modern {
        &["istio"]
    } else {
        &["istio-auth-node-agent", "istio"]
    }
}

/// `enable_units` and `disable_units`: a unit is enabled only when it is
/// installed and not enabled already, and a marker file beside `iptables.sh`
/// remembers that install.sh enabled it, so that `uninstall` disables only
/// what `install` enabled. With `--root`, systemctl works offline on the
/// tree (`systemctl --root`), as image builders need.
fn enable_units(modern: bool) -> String {
    let list = units(modern).join(" ");
    format!(
        "units=({list})\n\n\
         # systemctl on this machine, or offline on the tree under --root.\n\
         unit_ctl() {{\n\
         \tif [ \"$prefixed\" = true ]; then\n\
         \t\tsystemctl --root=\"$root\" \"$@\"\n\
         \telse\n\
         \t\tsystemctl \"$@\"\n\
         \tfi\n\
         }}\n\n\
         # The units start at boot: the sidecar package installs them disabled.\n\
         enable_units() {{\n\
         \tlocal unit state\n\
         \tif ! command -v systemctl >/dev/null 2>&1; then\n\
         \t\tnote \"systemctl not found: make ${{units[*]}} start at boot yourself\"\n\
         \t\treturn 0\n\
         \tfi\n\
         \tfor unit in \"${{units[@]}}\"; do\n\
         \t\tstate=$(unit_ctl is-enabled \"$unit.service\" 2>/dev/null) || true\n\
         \t\tcase $state in\n\
         \t\tenabled) ;;\n\
         \t\tdisabled)\n\
         \t\t\tunit_ctl enable \"$unit.service\"\n\
         \t\t\tmkdir -p -- \"$root$lib\"\n\
         \t\t\t: >\"$root$lib/enabled-$unit.service\"\n\
         \t\t\tnote \"enabled $unit.service: it starts at boot\"\n\
         \t\t\t;;\n\
         \t\t*) note \"$unit.service is ${{state:-not installed}}: not enabled\" ;;\n\
         \t\tesac\n\
         \tdone\n\
         }}\n\n\
         # Disables the units enable_units enabled, and only those.\n\
         disable_units() {{\n\
         \tlocal unit\n\
         \tfor unit in \"${{units[@]}}\"; do\n\
         \t\tif [ -e \"$root$lib/enabled-$unit.service\" ]; then\n\
         \t\t\tif command -v systemctl >/dev/null 2>&1; then\n\
         \t\t\t\tunit_ctl disable \"$unit.service\"\n\
         \t\t\t\tnote \"disabled $unit.service, which install enabled\"\n\
         \t\t\tfi\n\
         \t\t\trm -f -- \"$root$lib/enabled-$unit.service\"\n\
         \t\tfi\n\
         \tdone\n\
         }}\n\n"
    )
}

fn do_install(placements: &[Placement], extras: Extras) -> String {
    let mut out = String::from(
        "do_install() {\n\
         \tnote \"installing the meshc bundle of VM $vm under ${root:-/}\"\n\
         \tif [ \"$prefixed\" = false ]; then\n\
         \t\tensure_proxy_user\n\
         \tfi\n",
    );
    for p in placements {
        out.push_str(&format!("\tput {} {} {}\n", q(p.file), q(p.dest), q(p.mode)));
    }
    // Always rewritten, so that a bundle without hosts lines also removes
    // the block an earlier one added.
    if extras.hosts {
        out.push_str("\tset_block \"$root/etc/hosts\" \"$(cat -- \"$here/hosts\")\"\n");
        out.push_str("\tnote \"hosts lines in $root/etc/hosts\"\n");
    } else {
        out.push_str("\tset_block \"$root/etc/hosts\" ''\n");
    }
    if extras.dnsmasq {
        out.push_str(DHCLIENT_INSTALL);
    }
    out.push_str(
        "\tinstall_bundled_credentials\n\
         \tif [ \"$fetch\" = true ]; then\n\
         \t\tfetch_credentials\n\
         \telif ! credentials_present; then\n\
         \t\tshow_credentials\n\
         \tfi\n\
         \tif [ \"$prefixed\" = false ]; then\n\
         \t\town_agent_dirs\n\
         \tfi\n\
         \trestart_services\n\
         \t# Enabled only with credentials: at boot, a proxy without them would\n\
         \t# fail over and over behind rules that send the VM's traffic to it.\n\
         \tif credentials_present; then\n\
         \t\tenable_units\n\
         \telse\n\
         \t\tnote 'not enabled at boot until the credentials are in place (run install.sh again then)'\n\
         \tfi\n\
         }\n\n",
    );
    out
}

fn do_uninstall(placements: &[Placement], extras: Extras) -> String {
    let mut out = String::from(
        "do_uninstall() {\n\
         \tif [ \"$prefixed\" = false ]; then\n\
         \t\tif have_systemd && systemctl cat istio.service >/dev/null 2>&1; then\n\
         \t\t\tsystemctl stop istio.service\n\
         \t\tfi\n\
         \t\tif [ -x \"$lib/iptables.sh\" ]; then\n\
         \t\t\t\"$lib/iptables.sh\" clean\n\
         \t\tfi\n\
         \tfi\n\
         \tdisable_units\n",
    );
    for p in placements {
        out.push_str(&format!("\tdrop {}\n", q(p.dest)));
    }
    out.push_str("\tset_block \"$root/etc/hosts\" ''\n");
    if extras.dnsmasq {
        out.push_str("\tif [ -e \"$root/etc/dhcp/dhclient.conf\" ]; then\n\t\tset_block \"$root/etc/dhcp/dhclient.conf\" ''\n\tfi\n");
    }
    out.push_str(
        "\trmdir -- \"$root$lib\" \"$root/etc/systemd/system/istio.service.d\" 2>/dev/null || true\n\
         \tif [ \"$prefixed\" = false ] && have_systemd; then\n\
         \t\tsystemctl daemon-reload\n",
    );
    if extras.dnsmasq {
        out.push_str("\t\trestart_unit dnsmasq\n");
    }
    out.push_str(
        "\tfi\n\
         \tnote 'left in place: the istio-proxy user and the credentials'\n\
         }\n\n",
    );
    out
}

fn ensure_proxy_user(modern: bool, pinned: bool) -> String {
    let mismatch = if modern && !pinned {
        // The capture rules exempt whatever ids istio-proxy has (the sidecar
        // package creates it with a system uid), read when they are applied.
        "\t\tnote \"user istio-proxy is $uid:$gid; the capture rules let those ids through\"\n"
    } else if modern {
        "\t\tdie \"user istio-proxy is $uid:$gid, the capture rules expect $proxy_uid:$proxy_gid: set proxy-uid and proxy-gid on vm $vm and rebuild\"\n"
    } else {
        // 1.0's istio-iptables.sh looks the ids up itself at every start.
        "\t\tnote \"user istio-proxy is $uid:$gid; istio-iptables.sh uses those ids (iptables.rules shows $proxy_uid)\"\n"
    };
    format!(
        "# The capture rules let the proxy's own traffic through by uid and gid.\n\
         ensure_proxy_user() {{\n\
         \tif ! getent group istio-proxy >/dev/null; then\n\
         \t\tgroupadd --system --gid \"$proxy_gid\" istio-proxy\n\
         \tfi\n\
         \tif ! getent passwd istio-proxy >/dev/null; then\n\
         \t\tuseradd --system --uid \"$proxy_uid\" --gid istio-proxy --home-dir /var/lib/istio \\\n\
         \t\t\t--no-create-home --shell /usr/sbin/nologin istio-proxy\n\
         \tfi\n\
         \tlocal uid gid\n\
         \tuid=$(id -u istio-proxy)\n\
         \tgid=$(id -g istio-proxy)\n\
         \tif [ \"$uid\" != \"$proxy_uid\" ] || [ \"$gid\" != \"$proxy_gid\" ]; then\n\
         {mismatch}\
         \tfi\n\
         }}\n\n"
    )
}

fn restart_services(modern: bool, extras: Extras) -> String {
    let mut out = String::from(
        "restart_services() {\n\
         \tif [ \"$prefixed\" = true ]; then\n\
         \t\tnote '--root: no service restarted'\n\
         \t\treturn 0\n\
         \tfi\n\
         \tif ! have_systemd; then\n\
         \t\tnote 'systemd is not running here: restart dnsmasq and istio yourself'\n\
         \t\treturn 0\n\
         \tfi\n\
         \tsystemctl daemon-reload\n",
    );
    if extras.dnsmasq {
        out.push_str("\trestart_unit dnsmasq\n");
    }
    if !modern {
        // 1.0's node agent, which serves the certificates to the proxy.
        out.push_str("\trestart_unit istio-auth-node-agent\n");
    }
    out.push_str(
        "\tif credentials_present; then\n\
         \t\trestart_unit istio\n\
         \telse\n\
         \t\tnote 'istio not (re)started: put the credentials in place, then run systemctl restart istio'\n\
         \tfi\n\
         }\n\n",
    );
    out
}

const HELPERS: &str = r#"die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit 1
}

note() {
	printf '%s\n' "$*"
}

usage() {
	printf 'usage: %s [install|rebootstrap|uninstall] [--root DIR] [--fetch-credentials]\n' "$0"
}

# put FILE DEST MODE: installs this bundle's FILE as DEST. A file meshc did
# not write (the package's commented sidecar.env template, say) is kept as
# DEST.meshc-orig, and drop puts it back.
put() {
	local dest=$root$2
	if [ -e "$dest" ] && [ ! -e "$dest.meshc-orig" ] && ! grep -q '^# Code generated by meshc' "$dest"; then
		cp -p -- "$dest" "$dest.meshc-orig"
	fi
	install -D -m "$3" -- "$here/$1" "$dest"
	note "installed $dest"
}

# drop DEST: removes an installed file, restoring what put kept of the
# file it replaced.
drop() {
	local dest=$root$1
	if [ -e "$dest" ] || [ -L "$dest" ]; then
		rm -f -- "$dest"
		note "removed $dest"
	fi
	if [ -e "$dest.meshc-orig" ]; then
		mv -- "$dest.meshc-orig" "$dest"
		note "restored $dest"
	fi
}

# systemd runs here (not only installed, as in a container).
have_systemd() {
	command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]
}

# set_block FILE TEXT: removes the marked block from FILE, then appends TEXT
# between the markers unless it is empty. FILE is rewritten in place, since it
# may be a bind mount (as /etc/hosts is in containers).
set_block() {
	local file=$1 text=$2 tmp
	if [ ! -e "$file" ] && [ -z "$text" ]; then
		return 0
	fi
	tmp=$(mktemp)
	if [ -e "$file" ]; then
		awk -v begin="$block_begin" -v end="$block_end" \
			'$0 == begin { skip = 1; next } $0 == end { skip = 0; next } !skip' "$file" >"$tmp"
	fi
	if [ -n "$text" ]; then
		printf '%s\n' "$block_begin" "$text" "$block_end" >>"$tmp"
	fi
	mkdir -p -- "$(dirname -- "$file")"
	cat -- "$tmp" >"$file"
	rm -f -- "$tmp"
}

# write_secret DEST MODE TEXT: created readable by root only, then given MODE
# and, on a real install, to istio-proxy.
write_secret() {
	local dest=$root$1
	mkdir -p -- "$(dirname -- "$dest")"
	(umask 077 && printf '%s\n' "$3" >"$dest")
	chmod "$2" -- "$dest"
	if [ "$prefixed" = false ]; then
		chown istio-proxy:istio-proxy -- "$dest"
	fi
	note "fetched $dest"
}

# install_secret FILE DEST MODE: a credential fetch-credentials.sh left in
# this directory, installed as DEST with MODE and, on a real install, given
# to istio-proxy.
install_secret() {
	local dest=$root$2
	mkdir -p -- "$(dirname -- "$dest")"
	rm -f -- "$dest"
	(umask 077 && cp -- "$here/$1" "$dest")
	chmod "$3" -- "$dest"
	if [ "$prefixed" = false ]; then
		chown istio-proxy:istio-proxy -- "$dest"
	fi
	note "installed $dest from the bundle"
}

need_kubectl() {
	command -v kubectl >/dev/null 2>&1 || die 'kubectl not found (needed by --fetch-credentials)'
}

# restart_unit NAME: restarts a systemd service if it is installed.
restart_unit() {
	if systemctl cat -- "$1.service" >/dev/null 2>&1; then
		systemctl restart -- "$1.service"
		note "restarted $1"
	else
		note "$1.service is not installed: install it, then start it"
	fi
}

"#;

/// Modern: a service-account token for istiod's CA and the mesh root
/// certificate, where `istio-start.sh` and the agent look for them
/// (`istioctl x workload entry configure` writes the same two files).
const MODERN_CREDENTIALS: &str = r#"token=/var/run/secrets/tokens/istio-token
root_cert=/etc/certs/root-cert.pem

credentials_present() {
	[ -s "$root$token" ] && [ -s "$root$root_cert" ]
}

show_credentials() {
	note "The credentials are not in place. Run fetch-credentials.sh on the operator's machine, copy its files here and run install.sh again; or, with kubectl on cluster $cluster:"
	printf '  kubectl -n %q create token %q --audience istio-ca --duration 1h >%q\n' \
		"$namespace" "$service_account" "$root$token"
	printf '  kubectl -n %q get configmap istio-ca-root-cert -o %s >%q\n' \
		"$namespace" "'jsonpath={.data.root-cert\.pem}'" "$root$root_cert"
	note 'or run install.sh again with --fetch-credentials.'
}

# What fetch-credentials.sh fetched on the operator's machine.
install_bundled_credentials() {
	if [ -s "$here/istio-token" ]; then
		install_secret istio-token "$token" 0640
	fi
	if [ -s "$here/root-cert.pem" ]; then
		install_secret root-cert.pem "$root_cert" 0644
	fi
}

fetch_credentials() {
	need_kubectl
	local text
	text=$(kubectl -n "$namespace" create token "$service_account" --audience istio-ca --duration 1h)
	write_secret "$token" 0640 "$text"
	text=$(kubectl -n "$namespace" get configmap istio-ca-root-cert -o 'jsonpath={.data.root-cert\.pem}')
	write_secret "$root_cert" 0644 "$text"
}

"#;

/// Legacy: the key and certificates Citadel keeps in secret `istio.<sa>`,
/// as `setupMeshEx.sh machineCerts … all` copied them to `/etc/certs`.
const LEGACY_CREDENTIALS: &str = r#"certs=/etc/certs

credentials_present() {
	[ -s "$root$certs/root-cert.pem" ] && [ -s "$root$certs/cert-chain.pem" ] && [ -s "$root$certs/key.pem" ]
}

show_credentials() {
	local key
	note "The certificates are not in place: Citadel keeps them in secret istio.$service_account. Run fetch-credentials.sh on the operator's machine, copy its files here and run install.sh again; or, with kubectl on cluster $cluster:"
	for key in root-cert.pem cert-chain.pem key.pem; do
		printf "  kubectl -n %q get secret %q -o 'jsonpath={.data.%s}' | base64 -d >%q\n" \
			"$namespace" "istio.$service_account" "${key//./\\.}" "$root$certs/$key"
	done
	note 'or run install.sh again with --fetch-credentials.'
}

# What fetch-credentials.sh fetched on the operator's machine.
install_bundled_credentials() {
	local key mode
	for key in root-cert.pem cert-chain.pem key.pem; do
		if [ -s "$here/$key" ]; then
			mode=0644
			if [ "$key" = key.pem ]; then
				mode=0600
			fi
			install_secret "$key" "$certs/$key" "$mode"
		fi
	done
}

fetch_credentials() {
	need_kubectl
	local key text mode
	for key in root-cert.pem cert-chain.pem key.pem; do
		text=$(kubectl -n "$namespace" get secret "istio.$service_account" -o "jsonpath={.data.${key//./\\.}}" | base64 -d)
		mode=0644
		if [ "$key" = key.pem ]; then
			mode=0600
		fi
		write_secret "$certs/$key" "$mode" "$text"
	done
}

"#;

/// Modern: after a longer outage than the workload certificate's lifetime
/// (24 hours by default) the agent cannot come back by itself. It
/// authenticates to istiod's CA with the certificate it last got, kept in
/// `/etc/certs` (`PROV_CERT`, which `istio-start.sh` sets), and the CA
/// refuses an expired one; the bootstrap token, valid an hour, expired long
/// before. A fresh token in this directory (fetch-credentials.sh), the
/// expired certificate removed, and a restart make it bootstrap again.
const MODERN_REBOOTSTRAP: &str = r#"do_rebootstrap() {
	[ -s "$here/istio-token" ] || die "no istio-token in $here: run fetch-credentials.sh on the operator's machine, copy its files here, then run install.sh rebootstrap again"
	if [ "$prefixed" = false ] && have_systemd; then
		systemctl stop istio.service || true
	fi
	local file
	for file in key.pem cert-chain.pem; do
		if [ -e "$root/etc/certs/$file" ]; then
			rm -f -- "$root/etc/certs/$file"
			note "removed the expired $root/etc/certs/$file"
		fi
	done
	install_bundled_credentials
	if [ "$prefixed" = false ]; then
		own_agent_dirs
	fi
	restart_services
}

"#;

/// Legacy: Citadel renews secret `istio.<sa>` by itself; a VM that was down
/// past its certificate gets the current one from fetch-credentials.sh.
const LEGACY_REBOOTSTRAP: &str = r#"do_rebootstrap() {
	[ -s "$here/key.pem" ] || die "no key.pem in $here: run fetch-credentials.sh on the operator's machine, copy its files here, then run install.sh rebootstrap again"
	install_bundled_credentials
	if [ "$prefixed" = false ]; then
		own_agent_dirs
	fi
	restart_services
}

"#;

/// dnsmasq answers only if the VM asks it: put 127.0.0.1 first among the
/// resolvers DHCP hands out, as 1.0's `setupIstioVM.sh` did.
const DHCLIENT_INSTALL: &str = r#"	if [ -e "$root/etc/dhcp/dhclient.conf" ]; then
		set_block "$root/etc/dhcp/dhclient.conf" 'prepend domain-name-servers 127.0.0.1;'
		note 'dhclient puts dnsmasq (127.0.0.1) first from the next lease on (dhclient -v -1 renews now)'
	else
		note 'point the resolver at 127.0.0.1 (dnsmasq) to resolve cluster names'
	fi
"#;

const MAIN: &str = r#"action=install
fetch=false
root=${MESHC_ROOT-}
prefixed=false
if [ -n "$root" ]; then
	prefixed=true
fi
while [ "$#" -gt 0 ]; do
	case $1 in
	install | rebootstrap | uninstall) action=$1 ;;
	--root)
		[ "$#" -ge 2 ] || die '--root needs a directory'
		root=$2
		prefixed=true
		shift
		;;
	--root=*)
		root=${1#--root=}
		prefixed=true
		;;
	--fetch-credentials) fetch=true ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
	shift
done

if [ "$prefixed" = true ]; then
	[ -d "$root" ] || die "--root: $root is not a directory"
	root=$(cd -- "$root" && pwd)
	root=${root%/}
else
	root=''
	[ "$(id -u)" -eq 0 ] || die 'run as root (or install under a directory with --root DIR)'
fi

case $action in
install) do_install ;;
rebootstrap) do_rebootstrap ;;
uninstall) do_uninstall ;;
esac
"#;
