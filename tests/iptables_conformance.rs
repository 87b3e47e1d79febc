//! `meshc::iptables` against Istio's own capture goldens, byte for byte.
//!
//! Each golden under `shared/reference/istio/iptables/<release>/capture`
//! (releases 1.23.6, 1.24.6, 1.25.5 and master) is what istio-iptables
//! wrote for one configuration of Istio's `TestIptables`; `cases.md` and
//! each release's `run_test.go.txt` there list them, and [`CASES`] mirrors
//! that table, including the cases whose goldens are not kept there (they
//! run whenever their golden is present). `MESHC_ISTIO_IPTABLES_GOLDENS`
//! may name another directory laid out the same way (`<release>/capture/`,
//! e.g. extracted from an Istio checkout) to check against every golden. The goldens also record the `iptables-save`/`ip6tables-save` state
//! probes around the run, which are not rules: those lines are dropped
//! before comparing, and nothing else is touched.

use std::fs;
use std::path::{Path, PathBuf};

use meshc::iptables::{Config, Flavor, InterceptionMode, generate};

use crate::support;

/// One golden: its file name, and how its configuration differs from the
/// base (Istio's `constructTestConfig`, which is [`Config::default`]).
struct Case {
    name: &'static str,
    /// The golden does not exist on master (trace logging was dropped).
    not_on_master: bool,
    /// The golden is in Istio's test table but not kept in the reference
    /// folder: it runs when present.
    held_back: bool,
    tweak: fn(&mut Config),
}

const fn case(name: &'static str, tweak: fn(&mut Config)) -> Case {
    Case {
        name,
        not_on_master: false,
        held_back: false,
        tweak,
    }
}

const fn held_back(name: &'static str, tweak: fn(&mut Config)) -> Case {
    Case {
        name,
        not_on_master: false,
        held_back: true,
        tweak,
    }
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

const CASES: &[Case] = &[
    case("empty", |_| {}),
    case("inbound-ports-include", |c| {
        c.inbound_ports_include = "32000,31000".into()
    }),
    case("inbound-ports-wildcard", |c| c.inbound_ports_include = "*".into()),
    case("inbound-ports-tproxy", |c| {
        c.inbound_ports_include = "32000,31000".into();
        c.inbound_interception_mode = InterceptionMode::Tproxy;
    }),
    case("tproxy", |c| {
        c.inbound_interception_mode = InterceptionMode::Tproxy;
        c.inbound_ports_include = "*".into();
        c.outbound_ip_ranges_exclude = "1.1.0.0/16".into();
        c.outbound_ip_ranges_include = "9.9.0.0/16".into();
        c.redirect_dns = true;
        c.dns_servers_v4 = list(&["127.0.0.53"]);
        c.proxy_uid = list(&["1337"]);
        c.proxy_gid = list(&["1337"]);
        c.exclude_interfaces = "not-istio-nic".into();
        c.enable_ipv6 = true;
    }),
    case("ip-range", |c| {
        c.outbound_ip_ranges_exclude = "1.1.0.0/16".into();
        c.outbound_ip_ranges_include = "9.9.0.0/16".into();
        c.redirect_dns = true;
        c.enable_ipv6 = false;
        c.proxy_gid = list(&["1,2"]);
        c.proxy_uid = list(&["3,4"]);
        c.dns_servers_v4 = list(&["127.0.0.53"]);
    }),
    case("ipnets", |c| c.outbound_ip_ranges_include = "10.0.0.0/8".into()),
    case("kube-virt-interfaces", |c| {
        c.reroute_virtual_interfaces = "eth1,eth2".into();
        c.outbound_ip_ranges_include = "*".into();
    }),
    case("outbound-ports-include", |c| {
        c.outbound_ports_include = "32000,31000".into()
    }),
    case("outbound-owner-groups", |c| {
        c.owner_groups_include = "java,202".into()
    }),
    case("dns-uid-gid", |c| {
        c.redirect_dns = true;
        c.dns_servers_v4 = list(&["127.0.0.53"]);
        c.dns_servers_v6 = list(&["::127.0.0.53"]);
        c.proxy_gid = list(&["1,2"]);
        c.proxy_uid = list(&["3,4"]);
        c.enable_ipv6 = true;
    }),
    case("ipv6-dns-uid-gid", |c| {
        c.enable_ipv6 = true;
        c.redirect_dns = true;
        c.proxy_gid = list(&["1,2"]);
        c.proxy_uid = list(&["3,4"]);
    }),
    case("ipv6-dns-outbound-owner-groups", |c| {
        c.enable_ipv6 = true;
        c.redirect_dns = true;
        c.owner_groups_include = "java,202".into();
    }),
    case("ipv6-empty-inbound-ports", |c| {
        c.inbound_ports_include = String::new();
        c.enable_ipv6 = true;
    }),
    case("ipv6-inbound-ports", |c| {
        c.inbound_ports_include = "4000,5000".into();
        c.enable_ipv6 = true;
    }),
    case("ipv6-ipnets", |c| {
        c.inbound_ports_include = "4000,5000".into();
        c.inbound_ports_exclude = "6000,7000,".into();
        c.reroute_virtual_interfaces = "eth0,eth1".into();
        c.outbound_ip_ranges_exclude = "2001:db8::/32".into();
        c.outbound_ip_ranges_include = "2001:db8::/32".into();
        c.enable_ipv6 = true;
    }),
    case("ipv6-uid-gid", |c| {
        c.inbound_ports_include = "4000,5000".into();
        c.inbound_ports_exclude = "6000,7000".into();
        c.reroute_virtual_interfaces = "eth0,eth1".into();
        c.proxy_gid = list(&["1,2"]);
        c.proxy_uid = list(&["3,4"]);
        c.enable_ipv6 = true;
        c.outbound_ip_ranges_exclude = "2001:db8::/32".into();
        c.outbound_ip_ranges_include = "2001:db8::/32".into();
    }),
    case("ipv6-outbound-ports", |c| {
        c.inbound_ports_include = String::new();
        c.outbound_ports_include = "32000,31000".into();
        c.enable_ipv6 = true;
    }),
    case("basic-exclude-nic", |c| {
        c.exclude_interfaces = "not-istio-nic".into()
    }),
    case("host-ipv4-loopback-cidr", |c| {
        c.host_ipv4_loopback_cidr = "127.0.0.1/8".into()
    }),
    Case {
        name: "logging",
        not_on_master: true,
        held_back: false,
        tweak: |c| c.trace_logging = true,
    },
    held_back("ipv6-virt-interfaces", |c| {
        c.inbound_ports_include = "4000,5000".into();
        c.reroute_virtual_interfaces = "eth0,eth1".into();
        c.enable_ipv6 = true;
    }),
    held_back("ipnets-with-kube-virt-interfaces", |c| {
        c.reroute_virtual_interfaces = "eth1,eth2".into();
        c.outbound_ip_ranges_include = "10.0.0.0/8".into();
    }),
    held_back("inbound-ports-wildcard-tproxy", |c| {
        c.inbound_ports_include = "*".into();
        c.inbound_interception_mode = InterceptionMode::Tproxy;
    }),
    held_back("outbound-owner-groups-exclude", |c| {
        c.owner_groups_exclude = "888,ftp".into()
    }),
    held_back("ipv6-dns-outbound-owner-groups-exclude", |c| {
        c.enable_ipv6 = true;
        c.redirect_dns = true;
        c.owner_groups_exclude = "888,ftp".into();
    }),
    held_back("loopback-outbound-iprange", |c| {
        c.outbound_ip_ranges_include = "127.1.2.3/32".into();
        c.redirect_dns = true;
        c.dns_servers_v4 = list(&["127.0.0.53"]);
        c.enable_ipv6 = false;
        c.proxy_gid = list(&["1,2"]);
        c.proxy_uid = list(&["3,4"]);
    }),
    held_back("drop-invalid", |c| c.drop_invalid = true),
];

#[test]
fn master_capture_goldens_restore_flavor() {
    check_release("master", Flavor::Restore);
}

#[test]
fn release_1_25_5_capture_goldens_restore_flavor() {
    check_release("1.25.5", Flavor::Restore);
}

#[test]
fn release_1_24_6_capture_goldens_old_layout_restore_flavor() {
    check_release("1.24.6", Flavor::RestoreV1_24);
}

#[test]
fn release_1_23_6_capture_goldens_commands_flavor() {
    check_release("1.23.6", Flavor::Commands);
}

/// The directory holding `<release>/capture/`.
fn goldens_root() -> Option<PathBuf> {
    // Reading the environment is how a fuller set of goldens is pointed at.
    #[allow(clippy::disallowed_methods)]
    if let Some(dir) = std::env::var_os("MESHC_ISTIO_IPTABLES_GOLDENS") {
        return Some(PathBuf::from(dir));
    }
    Some(support::reference_dir()?.join("istio/iptables"))
}

fn check_release(release: &str, flavor: Flavor) {
    let Some(root) = goldens_root() else {
        return;
    };
    let dir = root.join(release).join("capture");
    let present = golden_names(&dir);
    let cases: Vec<&Case> = CASES
        .iter()
        .filter(|c| release != "master" || !c.not_on_master)
        .filter(|c| !c.held_back || present.iter().any(|p| p == c.name))
        .collect();
    assert_eq!(
        present,
        sorted(cases.iter().map(|c| c.name)),
        "every {release} golden needs a case, and every case kept in the reference a golden"
    );

    let mut failures = Vec::new();
    for case in cases {
        let mut config = Config::default();
        (case.tweak)(&mut config);
        let rules = generate(&config, flavor);
        let got = rules.v4 + rules.v6.as_deref().unwrap_or_default();
        let want = without_save_probes(&read(&dir.join(format!("{}.golden", case.name))));
        if got != want {
            failures.push(format!(
                "{release}/{}: {}",
                case.name,
                first_difference(&got, &want)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The golden without its `iptables-save`/`ip6tables-save` probe lines.
fn without_save_probes(golden: &str) -> String {
    golden
        .split_inclusive('\n')
        .filter(|line| !matches!(line.trim_end_matches('\n'), "iptables-save" | "ip6tables-save"))
        .collect()
}

fn golden_names(dir: &Path) -> Vec<String> {
    let entries = fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    sorted(entries.filter_map(|entry| {
        let name = entry.ok()?.file_name().into_string().ok()?;
        Some(name.strip_suffix(".golden")?.to_string())
    }))
}

fn sorted<S: Into<String>>(names: impl Iterator<Item = S>) -> Vec<String> {
    let mut names: Vec<String> = names.map(Into::into).collect();
    names.sort();
    names
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The first line where `got` and `want` part, with its number.
fn first_difference(got: &str, want: &str) -> String {
    let mut got_lines = got.split_inclusive('\n');
    let mut want_lines = want.split_inclusive('\n');
    for line in 1.. {
        match (got_lines.next(), want_lines.next()) {
            (None, None) => break,
            (g, w) if g == w => continue,
            (g, w) => return format!("line {line}: got {g:?}, want {w:?}"),
        }
    }
    "same lines, different bytes".into()
}

/// The 1.0 flavor has no upstream golden; `istio-formats.md` §e.3 derives
/// one from the script by hand, and the two must agree.
#[test]
fn legacy_matches_the_worked_example() {
    let Some(reference) = support::reference_dir() else {
        return;
    };
    let doc = read(&reference.join("istio-formats.md"));
    let example = worked_legacy_example(&doc).expect("istio-formats.md has a worked legacy example");
    // istio-proxy is uid 999 on that machine; with no -u the script adds root.
    let config = Config {
        proxy_uid: list(&["999", "0"]),
        proxy_gid: list(&["999", "0"]),
        outbound_ip_ranges_include: "10.63.240.0/20".into(),
        inbound_ports_include: "3306,9080".into(),
        ..Config::legacy()
    };
    let rules = generate(&config, Flavor::Legacy);
    assert_eq!(rules.v6, None);
    assert_eq!(rules.v4, example);
}

/// The fenced block after "Worked legacy example", with its final newline.
fn worked_legacy_example(doc: &str) -> Option<String> {
    let after = doc.split_once("Worked legacy example")?.1;
    let block = after.split_once("```\n")?.1;
    let body = block.split_once("```")?.0;
    Some(body.to_string())
}
