//! istio-iptables, reproduced: the traffic-capture rules a sidecar or VM
//! proxy installs, byte for byte as a given Istio release writes them.
//!
//! [`generate`] is a pure function of a [`Config`] (istio-iptables's own
//! settings) and a [`Flavor`] (which release's output to reproduce). It does
//! no I/O and cannot fail: Istio's own checks that matter for rendering are
//! done by the CLI ([`flags`]), and anything else renders as Istio would
//! render it.
//!
//! Conformance is tested against Istio's goldens (`tests/iptables_conformance.rs`
//! for the capture goldens of 1.23.6, 1.24.6, 1.25.5 and master,
//! `builder_tests.rs` for the builder goldens); the 1.0 flavor against the worked example of
//! `istio-formats.md` §e.3, as no upstream golden exists for it.
//!
//! Code map: `config` (settings and Istio's list splitting), `cidr` (CIDR
//! lists by family), `builder` (rule list and both renderings), `capture`
//! (the modern `Run`, with `inbound`, `outbound` and `dns`), `legacy` (the
//! 1.0 script), `flags` (the `meshc iptables` arguments).

mod builder;
mod capture;
mod cidr;
mod config;
mod dns;
pub mod flags;
mod inbound;
mod legacy;
mod outbound;
mod ruleset;

use builder::Family;
use capture::Era;

pub use config::{Config, InterceptionMode};
pub use flags::IptablesArgs;
pub use ruleset::{Rule, Ruleset, Table};

/// Which Istio release's output to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flavor {
    /// `iptables-restore --noflush` input, as Istio ≥ 1.25 (checked against
    /// 1.25.5 and master) writes it: `-A OUTPUT -j ISTIO_OUTPUT`, DNS in
    /// `ISTIO_OUTPUT_DNS`.
    Restore,
    /// `iptables-restore --noflush` input in 1.23's chain layout, as Istio
    /// 1.24 (checked against 1.24.6) writes it: `-A OUTPUT -p tcp -j
    /// ISTIO_OUTPUT`, DNS rules inside `ISTIO_OUTPUT` (nat and raw).
    RestoreV1_24,
    /// `iptables …` / `ip6tables …` command lines, as Istio 1.13–1.23
    /// (checked against 1.23.6) runs them.
    Commands,
    /// The commands of Istio 1.0's `istio-iptables.sh`.
    Legacy,
}

impl Flavor {
    /// The flavor of an Istio release.
    ///
    /// * below 1.8: `Legacy`, the 1.0 script (the mesh-expansion era: VM
    ///   onboarding through `istioctl x workload entry configure` starts at
    ///   1.8);
    /// * 1.8 to 1.23: `Commands`. It is exact for 1.13–1.23. Releases up to
    ///   1.12 differ in details that are not reproduced: a hard-coded
    ///   `--dport 22 -j RETURN` with `-b '*'` (the VM configs of those
    ///   releases exclude 22 through `-d` anyway), and older DNS and tunnel
    ///   port rules;
    /// * 1.24: `RestoreV1_24`;
    /// * 1.25 and later: `Restore` (the capture goldens of 1.26–1.30 are
    ///   byte-identical to master's).
    #[must_use]
    pub fn for_istio(major: u32, minor: u32) -> Flavor {
        match (major, minor) {
            (0, _) | (1, 0..=7) => Flavor::Legacy,
            (1, 8..=23) => Flavor::Commands,
            (1, 24) => Flavor::RestoreV1_24,
            _ => Flavor::Restore,
        }
    }

    /// Whether this flavor's rules are `iptables-restore` input as the
    /// release writes them (rather than commands regrouped into it).
    #[must_use]
    pub fn is_restore(self) -> bool {
        matches!(self, Flavor::Restore | Flavor::RestoreV1_24)
    }
}

/// The rendered rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// The IPv4 payload: restore input or command lines, each line ending in
    /// a newline. For `Legacy`, the whole script, including its ip6tables
    /// lines.
    pub v4: String,
    /// The IPv6 payload, present only with [`Config::enable_ipv6`] (never for
    /// `Legacy`, which writes no IPv6 capture).
    pub v6: Option<String>,
}

/// The rules istio-iptables of the given flavor writes for `config`.
#[must_use]
pub fn generate(config: &Config, flavor: Flavor) -> Rules {
    let render = |era: Era, render: fn(&builder::RuleBuilder, Family) -> String| {
        let rules = capture::rules(config, era);
        Rules {
            v4: render(&rules, Family::V4),
            v6: config.enable_ipv6.then(|| render(&rules, Family::V6)),
        }
    };
    match flavor {
        Flavor::Restore => render(Era::Master, builder::RuleBuilder::restore),
        Flavor::RestoreV1_24 => render(Era::V1_24, builder::RuleBuilder::restore),
        Flavor::Commands => render(Era::V1_23, builder::RuleBuilder::commands),
        Flavor::Legacy => Rules {
            v4: legacy::script(config),
            v6: None,
        },
    }
}

/// The rules of [`generate`], structured, per family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rulesets {
    pub v4: Ruleset,
    /// Present only with [`Config::enable_ipv6`] (never for `Legacy`).
    pub v6: Option<Ruleset>,
}

/// The rules istio-iptables of the given flavor installs for `config`,
/// by table, tables in byte order, each table's rules in the release's
/// order; [`Ruleset::restore`] renders them as restore input. For the
/// restore flavors that is byte for byte what [`generate`] writes; the
/// command flavors' rules are regrouped by table (tables do not interact,
/// so the same rules are loaded), and the 1.0 script's commands that are
/// not iptables rules (its TPROXY policy routing, its IPv6 lockdown) are
/// not in it.
#[must_use]
pub fn rulesets(config: &Config, flavor: Flavor) -> Rulesets {
    let structured = |era: Era, jump_targets: bool| {
        let rules = capture::rules(config, era);
        Rulesets {
            v4: rules.ruleset(Family::V4, jump_targets),
            v6: config
                .enable_ipv6
                .then(|| rules.ruleset(Family::V6, jump_targets)),
        }
    };
    match flavor {
        Flavor::Restore => structured(Era::Master, true),
        Flavor::RestoreV1_24 => structured(Era::V1_24, true),
        Flavor::Commands => structured(Era::V1_23, false),
        Flavor::Legacy => {
            let mut v4 = legacy::run(config).rules;
            v4.tables.sort_by(|a, b| a.name.cmp(&b.name));
            Rulesets { v4, v6: None }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_by_release() {
        assert_eq!(Flavor::for_istio(0, 8), Flavor::Legacy);
        assert_eq!(Flavor::for_istio(1, 0), Flavor::Legacy);
        assert_eq!(Flavor::for_istio(1, 7), Flavor::Legacy);
        assert_eq!(Flavor::for_istio(1, 8), Flavor::Commands);
        assert_eq!(Flavor::for_istio(1, 23), Flavor::Commands);
        assert_eq!(Flavor::for_istio(1, 24), Flavor::RestoreV1_24);
        assert_eq!(Flavor::for_istio(1, 25), Flavor::Restore);
        assert_eq!(Flavor::for_istio(2, 0), Flavor::Restore);
    }

    /// The structured rules are what `generate` writes: the same bytes for
    /// the restore flavors (one renderer), and for the command flavors the
    /// same rules per table in the same order, every chain created once.
    #[test]
    fn rulesets_are_the_generated_rules() {
        let configs = [
            Config {
                inbound_ports_include: "*".into(),
                inbound_ports_exclude: "22,15090".into(),
                outbound_ip_ranges_include: "*".into(),
                outbound_ip_ranges_exclude: "10.0.0.0/8,fd00::/8".into(),
                redirect_dns: true,
                dns_servers_v4: vec!["127.0.0.53".into()],
                dns_servers_v6: vec!["::1".into()],
                enable_ipv6: true,
                ..Config::default()
            },
            Config {
                inbound_ports_include: "9080,3306".into(),
                outbound_ip_ranges_include: "10.96.0.0/12".into(),
                inbound_interception_mode: InterceptionMode::Tproxy,
                trace_logging: true,
                ..Config::legacy()
            },
        ];
        let mut checked = 0;
        for config in &configs {
            for flavor in [
                Flavor::Restore,
                Flavor::RestoreV1_24,
                Flavor::Commands,
                Flavor::Legacy,
            ] {
                let text = generate(config, flavor);
                let sets = rulesets(config, flavor);
                let families = [
                    ("iptables", Some(&text.v4), Some(&sets.v4)),
                    ("ip6tables", text.v6.as_ref(), sets.v6.as_ref()),
                ];
                for (binary, text, set) in families {
                    let (Some(text), Some(set)) = (text, set) else {
                        assert!(text.is_none() || flavor == Flavor::Legacy, "{flavor:?} {binary}");
                        continue;
                    };
                    if flavor.is_restore() {
                        assert_eq!(&set.restore(), text, "{flavor:?} {binary}");
                    } else {
                        let names: Vec<&str> = set.tables.iter().map(|t| t.name.as_str()).collect();
                        let mut sorted = names.clone();
                        sorted.sort_unstable();
                        assert_eq!(names, sorted, "{flavor:?}: tables in byte order");
                        for table in &set.tables {
                            let prefix = format!("{binary} -t {} ", table.name);
                            let commands: Vec<&str> =
                                text.lines().filter_map(|l| l.strip_prefix(&prefix)).collect();
                            let rules: Vec<String> = table.rules.iter().map(Rule::line).collect();
                            let added: Vec<&str> = commands
                                .iter()
                                .copied()
                                .filter(|c| !c.starts_with("-N "))
                                .collect();
                            assert_eq!(rules, added, "{flavor:?} {binary} {}", table.name);
                            let mut created: Vec<&str> =
                                commands.iter().filter_map(|c| c.strip_prefix("-N ")).collect();
                            created.dedup();
                            assert_eq!(table.chains, created, "{flavor:?} {binary} {}", table.name);
                        }
                        let tables = text
                            .lines()
                            .filter(|l| l.starts_with(&format!("{binary} -t ")))
                            .count();
                        let structured: usize =
                            set.tables.iter().map(|t| t.rules.len() + t.chains.len()).sum();
                        assert!(structured <= tables, "{flavor:?} {binary}: nothing invented");
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 11);
    }

    #[test]
    fn ipv6_payload_only_when_enabled() {
        let off = generate(&Config::default(), Flavor::Restore);
        assert!(off.v6.is_none());
        let on = Config {
            enable_ipv6: true,
            ..Config::default()
        };
        assert!(generate(&on, Flavor::Commands).v6.is_some());
        assert!(generate(&on, Flavor::Legacy).v6.is_none());
    }

    #[test]
    fn odd_input_renders_without_panicking() {
        let odd = Config {
            proxy_uid: vec![String::new(), ",".into()],
            inbound_ports_include: ",".into(),
            outbound_ip_ranges_include: "/,::/,1.2.3.4/,*/8".into(),
            outbound_ip_ranges_exclude: "*".into(),
            owner_groups_include: String::new(),
            inbound_interception_mode: InterceptionMode::Tproxy,
            redirect_dns: true,
            capture_all_dns: true,
            drop_invalid: true,
            trace_logging: true,
            enable_ipv6: true,
            ..Config::default()
        };
        for flavor in [
            Flavor::Restore,
            Flavor::RestoreV1_24,
            Flavor::Commands,
            Flavor::Legacy,
        ] {
            let rules = generate(&odd, flavor);
            assert!(!rules.v4.is_empty());
        }
    }
}
