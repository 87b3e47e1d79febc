//! `iptables.rules` (and `iptables6.rules`): the capture rules of one VM as
//! `iptables-restore --noflush` input, and what `iptables.sh` needs to take
//! them out again.
//!
//! The rules come from [`crate::iptables::rulesets`], the structured
//! result (tables, the chains each creates, its rules) of the [`Config`]
//! istio-iptables would build from the VM's `sidecar.env` ([`config`] reads
//! the very entries that file is written from) in the flavor of the mesh's
//! Istio release, rendered once by [`Ruleset::restore`]. For 1.24+ that is
//! byte for byte the restore input the release writes; the 1.8–1.23 and
//! 1.0 flavors run commands, whose rules it holds by table, keeping Istio's
//! rule order within each table (tables do not interact, so this loads the
//! same rules). Two lines of the 1.0 script are not iptables rules and are
//! not in it: its TPROXY policy routing (`ip rule`/`ip route`, which
//! `iptables.sh` sets up itself, in every flow) and its IPv6 lockdown
//! (`ip6tables -F INPUT`, then REJECT), which would flush rules meshc did
//! not write and which `clean` could not undo; `istio-iptables.sh` still
//! applies it on a legacy VM at every start unless `ENABLE_INBOUND_IPV6`
//! is set. What `clean` removes is read from the same structure
//! ([`payload`]), never parsed back from text.
//!
//! Two inputs of istio-iptables are facts of the VM, not of the topology,
//! and are read when `iptables.sh` applies the rules, as istio-iptables
//! reads them when it runs:
//!
//! * the proxy's uid and gid, unless `proxy-uid`/`proxy-gid` pin them: the
//!   sidecar package creates `istio-proxy` with a system uid, so its ids
//!   are looked up (1337 when there is no such user). The payload holds
//!   [`PROXY_UID`] and [`PROXY_GID`] where the ids go;
//! * the DNS servers, unless `dns-server` pins them or `capture-all-dns`
//!   captures every port-53 packet: the `nameserver` lines of the VM's
//!   `/etc/resolv.conf` (capturing only those keeps a local stub resolver's
//!   upstream queries out of the agent, Istio's fix for istio/istio#30309).
//!   The rules for one server sit between `#@each-dns` and `#@end` with
//!   [`DNS`] for the address, and are written once per server of the
//!   payload's family; where a release writes different rules when a family
//!   has no server (1.25+ drops DNS capture when there is none at all), the
//!   payload has one section per case, each after `#@when some` (servers of
//!   this family), `#@when other` (none here, some of the other family) or
//!   `#@when none`.
//!
//! The template is derived from [`iptables::rulesets`] itself, run with
//! stand-in servers, so that expanding it ([`expand`]) gives exactly what
//! istio-iptables writes for those servers; tests hold the two together.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use ipnet::IpNet;

use super::plan::VmPlan;
use super::sidecar_env::{legacy_service_cidrs, owners};
use super::text::{comment_text, header};
use crate::iptables::{self, Config, Flavor, InterceptionMode, Ruleset};
use crate::model::{DnsMode, Flow, Interception};

/// Where the proxy's uid goes in a payload whose ids are read at apply time.
pub const PROXY_UID: &str = "@PROXY_UID@";
/// Where the proxy's gid goes.
pub const PROXY_GID: &str = "@PROXY_GID@";
/// Where one DNS server's address goes, inside `#@each-dns` … `#@end`.
pub const DNS: &str = "@DNS@";
/// Stand-in servers the template is derived with.
const SERVER_1: &str = "@DNS1@";
const SERVER_2: &str = "@DNS2@";
const SERVER_OTHER: &str = "@DNSO@";

/// The rules of one VM, both families.
#[derive(Clone, Debug)]
pub struct Capture {
    pub flavor: Flavor,
    pub config: Config,
    /// The uid (and gid) are looked up when the rules are applied.
    pub resolve_uid: bool,
    pub resolve_gid: bool,
    /// The DNS servers are read from `/etc/resolv.conf` when applied.
    pub resolve_dns: bool,
    pub v4: Payload,
    /// Present when the VM captures IPv6 ([`VmPlan::ipv6`], modern flow).
    pub v6: Option<Payload>,
}

/// One family's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// `iptables-restore --noflush` input: per table `* T`, `-N` lines,
    /// rules, `COMMIT`.
    pub restore: String,
    pub tables: Vec<Table>,
}

/// What one table of a payload adds, as `clean` must remove it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    /// Chains the payload creates (`-N`), in order.
    pub chains: Vec<String>,
    /// Rules the payload adds to built-in chains, as `CHAIN match… -j
    /// target` (the arguments `iptables -D` takes).
    pub hooks: Vec<String>,
}

/// Payloads already made, by everything [`family_payload`] reads: many VMs
/// share their capture settings (a service's VMs, say), and making a payload
/// runs istio-iptables's rule builder up to four times, once per stand-in
/// DNS case. A payload is a pure function of its key, so which VM (or
/// thread) makes it first cannot change any output.
#[derive(Default)]
pub struct Payloads(Mutex<BTreeMap<PayloadKey, Payload>>);

/// [`family_payload`]'s arguments.
type PayloadKey = (Config, Flavor, bool, bool);

impl Payloads {
    /// [`family_payload`] of these arguments, made once.
    fn get(&self, config: &Config, flavor: Flavor, v6: bool, resolve_dns: bool) -> Payload {
        let key = (config.clone(), flavor, v6, resolve_dns);
        // A panic elsewhere cannot leave a half-made entry: entries are
        // inserted whole, so a poisoned map is still a correct one.
        if let Some(made) = self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return made.clone();
        }
        // Made outside the lock, so the other thread's VMs do not wait; two
        // threads making the same payload at once make equal ones.
        let made = family_payload(config, flavor, v6, resolve_dns);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, made.clone());
        made
    }
}

/// The rules of `plan`'s VM.
pub fn capture(plan: &VmPlan<'_>) -> Capture {
    capture_with(plan, &Payloads::default())
}

/// [`capture`], with `payloads` keeping the payloads made for VMs before
/// this one (see [`Payloads`]).
pub fn capture_with(plan: &VmPlan<'_>, payloads: &Payloads) -> Capture {
    let config = config(plan);
    let flavor = Flavor::for_istio(u32::from(plan.istio.major), u32::from(plan.istio.minor));
    let modern = plan.flow == Flow::Modern;
    let resolve_dns =
        modern && config.redirect_dns && !config.capture_all_dns && plan.vm.dns_servers.is_empty();
    Capture {
        flavor,
        resolve_uid: modern && plan.vm.proxy_uid.is_none(),
        resolve_gid: modern && plan.vm.proxy_uid.is_none() && plan.vm.proxy_gid.is_none(),
        resolve_dns,
        v4: payloads.get(&config, flavor, false, resolve_dns),
        v6: config
            .enable_ipv6
            .then(|| payloads.get(&config, flavor, true, resolve_dns)),
        config,
    }
}

/// One family's payload (IPv6 when `v6`), a template of the DNS servers
/// when `resolve_dns`.
pub fn family_payload(config: &Config, flavor: Flavor, v6: bool, resolve_dns: bool) -> Payload {
    let family = |v6: bool| {
        // The payload of this family for these servers of this family and
        // of the other one.
        let render = |this: &[&str], other: &[&str]| {
            let mut config = config.clone();
            if resolve_dns {
                let (v4, v6s) = if v6 { (other, this) } else { (this, other) };
                config.dns_servers_v4 = v4.iter().map(ToString::to_string).collect();
                config.dns_servers_v6 = v6s.iter().map(ToString::to_string).collect();
            }
            let rules = iptables::rulesets(&config, flavor);
            let rules = if v6 {
                // Not a fallback: an IPv6 payload is made only with IPv6 on.
                rules.v6.unwrap_or_default()
            } else {
                rules.v4
            };
            payload(&rules)
        };
        if !resolve_dns {
            return render(&[], &[]);
        }
        let one = render(&[SERVER_1], &[SERVER_OTHER]);
        let some = template(
            &one.restore,
            &render(&[SERVER_1, SERVER_2], &[SERVER_OTHER]).restore,
        );
        let other = render(&[], &[SERVER_OTHER]);
        let none = render(&[], &[]);
        if expand(&some, &[]) == other.restore && other.restore == none.restore {
            return Payload {
                restore: some,
                tables: none.tables,
            };
        }
        let restore = format!(
            "#@when some\n{some}#@when other\n{}#@when none\n{}",
            other.restore, none.restore
        );
        // clean removes the chains of every case.
        let mut tables = one.tables;
        for table in other.tables.into_iter().chain(none.tables) {
            match tables.iter_mut().find(|t| t.name == table.name) {
                Some(t) => {
                    for chain in table.chains {
                        if !t.chains.contains(&chain) {
                            t.chains.push(chain);
                        }
                    }
                }
                None => tables.push(table),
            }
        }
        Payload { restore, tables }
    };
    family(v6)
}

/// The template of a payload from its renderings with one stand-in server
/// ([`SERVER_1`]) and with two (then [`SERVER_2`]): each run of lines naming
/// the first server that the same lines naming the second follow is one
/// server's rules, written once between `#@each-dns` and `#@end`.
fn template(one: &str, two: &str) -> String {
    let lines: Vec<&str> = two.lines().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].contains(SERVER_1) {
            out.push_str(lines[i]);
            out.push('\n');
            i += 1;
            continue;
        }
        let run = lines[i..].iter().take_while(|l| l.contains(SERVER_1)).count();
        out.push_str("#@each-dns\n");
        for line in &lines[i..i + run] {
            out.push_str(&line.replace(SERVER_1, DNS));
            out.push('\n');
        }
        out.push_str("#@end\n");
        // The second server's copy of the run, when the release wrote one.
        let copy = lines[i + run..]
            .iter()
            .take(run)
            .zip(&lines[i..i + run])
            .all(|(second, first)| *second == first.replace(SERVER_1, SERVER_2));
        i += if copy { 2 * run } else { run };
    }
    debug_assert_eq!(expand(&out, &[SERVER_1]), one, "template of one server");
    debug_assert_eq!(
        expand(&out, &[SERVER_1, SERVER_2]),
        two,
        "template of two servers"
    );
    out
}

/// A template for these servers of its family (what `iptables.sh` does at
/// apply time, also with the ids still in): the `#@each-dns` blocks once per
/// server. `#@when` sections are not chosen here.
pub fn expand(template: &str, servers: &[&str]) -> String {
    let mut out = String::new();
    let mut block: Option<Vec<&str>> = None;
    for line in template.lines() {
        match (line, block.as_mut()) {
            ("#@each-dns", _) => block = Some(Vec::new()),
            ("#@end", Some(lines)) => {
                for server in servers {
                    for l in lines.iter() {
                        out.push_str(&l.replace(DNS, server));
                        out.push('\n');
                    }
                }
                block = None;
            }
            (_, Some(lines)) => lines.push(line),
            (_, None) => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// istio-iptables's configuration for this VM, built from the plan's typed
/// values (the settings `sidecar.env` writes from the same values, as
/// istio-iptables would read them there; `tests/vm_bundle.rs` reads the
/// written file back and holds the two equal), plus what the tool would
/// learn from the machine (IPv6; resolvers: the VM's declared
/// `dns-server`s, every port-53 packet with `capture-all-dns`, else none
/// here: [`capture`] fills them in from resolv.conf at apply time). Ids
/// not pinned are [`PROXY_UID`]/[`PROXY_GID`].
pub fn config(plan: &VmPlan<'_>) -> Config {
    let vm = plan.vm;
    let legacy = plan.flow == Flow::Legacy;
    let mut config = match plan.flow {
        Flow::Legacy => Config::legacy(),
        Flow::Modern => Config::default(),
    };
    config.inbound_interception_mode = match plan.interception() {
        Interception::Tproxy => InterceptionMode::Tproxy,
        Interception::Redirect => InterceptionMode::Redirect,
    };
    // Every port when a modern VM serves nothing declared (istioctl's `*`
    // for a WorkloadGroup without ports); none on a legacy one, as the 1.0
    // docs say for a VM that only calls the mesh.
    config.inbound_ports_include = match plan.flow {
        Flow::Modern if plan.inbound_ports.is_empty() => "*".to_owned(),
        _ => join(&plan.inbound_ports),
    };
    config.inbound_ports_exclude = join(&plan.local_exclude_ports);
    config.outbound_ip_ranges_include = match plan.flow {
        Flow::Modern => "*".to_owned(),
        Flow::Legacy => legacy_service_cidrs(plan).to_string(),
    };
    // Istio 1.0 captured IPv4 only.
    config.outbound_ip_ranges_exclude = vm
        .outbound_exclude_cidrs
        .iter()
        .filter(|c| !legacy || matches!(c.value, IpNet::V4(_)))
        .map(|c| c.value.to_string())
        .collect::<Vec<_>>()
        .join(",");
    config.enable_ipv6 = plan.ipv6;
    match plan.flow {
        Flow::Modern => {
            let ports: Vec<u16> = vm.outbound_exclude_ports.iter().map(|p| p.value).collect();
            config.outbound_ports_exclude = join(&ports);
            // Not pinned: istio-proxy's ids, looked up at apply time (in
            // TPROXY mode root's too, as sidecar.env's owners say).
            let root = if plan.vm.interception() == Interception::Tproxy {
                ",0"
            } else {
                ""
            };
            let (uid, gid) = owners(plan);
            config.proxy_uid = vec![match vm.proxy_uid {
                Some(_) => uid.to_string(),
                None => format!("{PROXY_UID}{root}"),
            }];
            config.proxy_gid = vec![match (&vm.proxy_uid, &vm.proxy_gid) {
                (None, None) => format!("{PROXY_GID}{root}"),
                _ => gid.to_string(),
            }];
            if plan.dns == DnsMode::Capture {
                let (v4, v6) = plan.dns_servers();
                config.redirect_dns = true;
                // Without pinned servers: those of resolv.conf, read at
                // apply time (see `capture`), or all with capture-all-dns.
                config.capture_all_dns = plan.vm.capture_all_dns.as_ref().is_some_and(|c| c.value);
                config.dns_servers_v4 = v4.iter().map(ToString::to_string).collect();
                config.dns_servers_v6 = v6.iter().map(ToString::to_string).collect();
            }
        }
        Flow::Legacy => {
            // The 1.0 script's owners: istio-proxy's uid, then root (for the
            // node agent), and that same list again as gids.
            let owners = vec![plan.vm.proxy_uid().to_string(), "0".to_owned()];
            config.proxy_uid = owners.clone();
            config.proxy_gid = owners;
        }
    }
    config
}

fn join(ports: &[u16]) -> String {
    ports.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

/// `iptables.rules` / `iptables6.rules`: the header, what the file is, then
/// the restore input.
pub fn rules_file(
    plan: &VmPlan<'_>,
    capture: &Capture,
    payload: &Payload,
    family: &str,
    source_name: &str,
) -> String {
    let vm = comment_text(&plan.vm.name.value);
    let istio = plan.istio;
    let origin = match capture.flavor {
        Flavor::Restore | Flavor::RestoreV1_24 => format!("as istio-iptables of Istio {istio} writes it"),
        Flavor::Commands => format!(
            "the commands istio-iptables of Istio {istio} runs,\n# grouped by table (Istio's order within each)"
        ),
        Flavor::Legacy => {
            "the commands Istio 1.0's istio-iptables.sh runs,\n# grouped by table (its order within each)"
                .to_owned()
        }
    };
    let mut out = header(source_name);
    out.push_str(&format!(
        "#\n\
         # {family} capture rules of VM {vm}: iptables-restore --noflush input,\n\
         # {origin}, for the settings in sidecar.env.\n\
         # iptables.sh loads them (apply) and removes them (clean).\n"
    ));
    let mut facts = Vec::new();
    if capture.resolve_uid || capture.resolve_gid {
        facts.push(format!(
            "#   {PROXY_UID} {PROXY_GID}: the ids of user istio-proxy (1337 without it)"
        ));
    }
    if capture.resolve_dns {
        facts.push(format!(
            "#   #@each-dns ... #@end: once per nameserver of /etc/resolv.conf, {DNS} its address\n\
             #   #@when some|other|none: the section for servers of this family, only of the other, none"
        ));
    }
    if !facts.is_empty() {
        out.push_str(&format!(
            "# What is read on the VM when the rules are applied, as istio-iptables reads it,\n\
             # is filled in by iptables.sh (`iptables.sh show` prints the result):\n{}\n",
            facts.join("\n")
        ));
    }
    if plan.flow == Flow::Legacy {
        out.push_str(
            "# On a 1.0 VM istio.service runs istio-iptables.sh itself at every start,\n\
             # which installs these same rules; its IPv6 INPUT lockdown is not in here.\n",
        );
    }
    out.push_str(&payload.restore);
    out
}

/// One family's restore input, rendered once from the structured rules,
/// and what `clean` removes: per table the chains it creates and the rules
/// it adds to built-in chains.
pub fn payload(rules: &Ruleset) -> Payload {
    Payload {
        restore: rules.restore(),
        tables: rules
            .tables
            .iter()
            .map(|t| Table {
                name: t.name.clone(),
                chains: t.chains.clone(),
                hooks: t.hooks(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `iptables.sh`'s `rules` does: the `#@when` section for these
    /// servers, the blocks once per server, the ids filled in.
    fn fill(template: &str, this: &[&str], other: usize, uid: &str, gid: &str) -> String {
        let want = match (this.len(), other) {
            (0, 0) => "none",
            (0, _) => "other",
            _ => "some",
        };
        let mut active = true;
        let mut section = String::new();
        for line in template.lines() {
            if let Some(case) = line.strip_prefix("#@when ") {
                active = case == want;
            } else if active {
                section.push_str(line);
                section.push('\n');
            }
        }
        expand(&section, this)
            .replace(PROXY_UID, uid)
            .replace(PROXY_GID, gid)
    }

    #[test]
    fn templates_fill_in_to_what_istio_iptables_writes() {
        let lists: [(&[&str], &[&str]); 5] = [
            (&[], &[]),
            (&["127.0.0.53"], &[]),
            (&[], &["fd00::53"]),
            (&["10.0.0.2", "127.0.0.53", "10.0.0.3"], &["fd00::53", "::1"]),
            (&["10.0.0.2", "10.0.0.2"], &[]),
        ];
        let mut checked = 0;
        for flavor in [Flavor::Commands, Flavor::RestoreV1_24, Flavor::Restore] {
            for (ipv6, tproxy) in [(false, false), (true, false), (true, true)] {
                let base = Config {
                    redirect_dns: true,
                    proxy_uid: vec![format!("{PROXY_UID},0")],
                    proxy_gid: vec![PROXY_GID.to_owned()],
                    inbound_ports_include: "*".into(),
                    outbound_ip_ranges_include: "*".into(),
                    inbound_interception_mode: if tproxy {
                        InterceptionMode::Tproxy
                    } else {
                        InterceptionMode::Redirect
                    },
                    enable_ipv6: ipv6,
                    ..Config::default()
                };
                let v4 = family_payload(&base, flavor, false, true);
                let v6 = family_payload(&base, flavor, true, true);
                for (servers4, servers6) in lists {
                    let real = Config {
                        proxy_uid: vec!["995,0".into()],
                        proxy_gid: vec!["994".into()],
                        dns_servers_v4: servers4.iter().map(ToString::to_string).collect(),
                        dns_servers_v6: servers6.iter().map(ToString::to_string).collect(),
                        ..base.clone()
                    };
                    let want = iptables::rulesets(&real, flavor);
                    let want4 = want.v4.restore();
                    let got4 = fill(&v4.restore, servers4, servers6.len(), "995", "994");
                    assert_eq!(
                        got4, want4,
                        "{flavor:?} ipv6={ipv6} tproxy={tproxy} {servers4:?} {servers6:?}"
                    );
                    if ipv6 {
                        let want6 = want.v6.as_ref().map(Ruleset::restore).unwrap_or_default();
                        let got6 = fill(&v6.restore, servers6, servers4.len(), "995", "994");
                        assert_eq!(
                            got6, want6,
                            "v6 {flavor:?} tproxy={tproxy} {servers4:?} {servers6:?}"
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 45);
    }

    /// A payload made once serves only calls with every argument equal:
    /// each of them, changed alone, gets its own payload.
    #[test]
    fn payloads_are_shared_only_by_equal_arguments() {
        let config = Config {
            redirect_dns: true,
            inbound_ports_include: "9080".into(),
            outbound_ip_ranges_include: "*".into(),
            enable_ipv6: true,
            ..Config::default()
        };
        let other_ports = Config {
            inbound_ports_include: "9081".into(),
            ..config.clone()
        };
        let calls = [
            (&config, Flavor::Restore, false, true),
            (&config, Flavor::Restore, true, true),
            (&config, Flavor::Restore, false, false),
            (&config, Flavor::RestoreV1_24, false, true),
            (&other_ports, Flavor::Restore, false, true),
        ];
        let payloads = Payloads::default();
        let mut made = Vec::new();
        // Twice over: the second round is served from what the first made.
        for _ in 0..2 {
            for (config, flavor, v6, resolve_dns) in calls {
                let got = payloads.get(config, flavor, v6, resolve_dns);
                assert_eq!(got, family_payload(config, flavor, v6, resolve_dns));
                made.push(got.restore);
            }
        }
        made.truncate(calls.len());
        made.sort();
        made.dedup();
        assert_eq!(made.len(), calls.len(), "every call differs from the others");
    }

    #[test]
    fn payload_lists_what_clean_removes() {
        let config = Config {
            inbound_ports_include: "9080".into(),
            outbound_ip_ranges_include: "*".into(),
            inbound_interception_mode: InterceptionMode::Tproxy,
            ..Config::default()
        };
        let payload = payload(&iptables::rulesets(&config, Flavor::Restore).v4);
        let mangle = payload
            .tables
            .iter()
            .find(|t| t.name == "mangle")
            .expect("TPROXY uses mangle");
        assert!(mangle.chains.contains(&"ISTIO_INBOUND".to_owned()), "{mangle:?}");
        assert!(
            mangle
                .hooks
                .contains(&"PREROUTING -p tcp -j ISTIO_INBOUND".to_owned()),
            "{mangle:?}"
        );
        let nat = payload.tables.iter().find(|t| t.name == "nat").expect("nat");
        assert_eq!(nat.hooks, ["OUTPUT -j ISTIO_OUTPUT"]);
        assert!(nat.chains.iter().all(|c| c.starts_with("ISTIO_")), "{nat:?}");
    }
}
