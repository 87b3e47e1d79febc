//! `iptables.rules` (and `iptables6.rules`): the capture rules of one VM as
//! `iptables-restore --noflush` input, and what `iptables.sh` needs to take
//! them out again.
//!
//! The rules come from [`crate::iptables::generate`], given the [`Config`]
//! istio-iptables would build from the VM's `sidecar.env` ([`config`] reads
//! the very entries that file is written from) in the flavor of the mesh's
//! Istio release. Only the 1.24+ flavors render restore input; the
//! 1.8–1.23 and 1.0 flavors render the commands those releases run, which
//! [`payload`] regroups by table into restore input, keeping Istio's rule
//! order within each table (tables do not interact, so this loads the same
//! rules). Two lines of the 1.0 script are not iptables rules and are left
//! out: its TPROXY policy routing (`ip rule`/`ip route`, which `iptables.sh`
//! sets up itself, in every flow) and its IPv6 lockdown (`ip6tables -F
//! INPUT`, then REJECT), which would flush rules meshc did not write and
//! which `clean` could not undo; `istio-iptables.sh` still applies it on a
//! legacy VM at every start unless `ENABLE_INBOUND_IPV6` is set.

use std::collections::BTreeMap;

use super::plan::VmPlan;
use super::text::{comment_text, header};
use crate::iptables::{self, Config, Flavor, InterceptionMode};
use crate::model::{DnsMode, Flow};

/// The rules of one VM, both families.
#[derive(Clone, Debug)]
pub struct Capture {
    pub flavor: Flavor,
    pub config: Config,
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

/// The rules of `plan`'s VM, from its `sidecar.env` entries.
pub fn capture(plan: &VmPlan<'_>, env: &BTreeMap<&'static str, String>) -> Capture {
    let config = config(plan, env);
    let flavor = Flavor::for_istio(u32::from(plan.istio.major), u32::from(plan.istio.minor));
    let rules = iptables::generate(&config, flavor);
    Capture {
        flavor,
        v4: payload(&rules.v4, flavor, "iptables"),
        v6: rules.v6.as_deref().map(|text| payload(text, flavor, "ip6tables")),
        config,
    }
}

/// istio-iptables's configuration for this VM, read from `sidecar.env`'s
/// entries as the tool reads its environment, plus what it would learn from
/// the machine (IPv6, resolvers: the VM's declared `dns-server`s, or every
/// port-53 packet when none are declared).
pub fn config(plan: &VmPlan<'_>, env: &BTreeMap<&'static str, String>) -> Config {
    let get = |key: &str| env.get(key).cloned().unwrap_or_default();
    let mut config = match plan.flow {
        Flow::Legacy => Config::legacy(),
        Flow::Modern => Config::default(),
    };
    config.inbound_interception_mode = match get("ISTIO_INBOUND_INTERCEPTION_MODE").as_str() {
        "TPROXY" => InterceptionMode::Tproxy,
        _ => InterceptionMode::Redirect,
    };
    config.inbound_ports_include = get("ISTIO_INBOUND_PORTS");
    config.inbound_ports_exclude = get("ISTIO_LOCAL_EXCLUDE_PORTS");
    config.outbound_ip_ranges_include = get("ISTIO_SERVICE_CIDR");
    config.outbound_ip_ranges_exclude = get("ISTIO_SERVICE_EXCLUDE_CIDR");
    config.outbound_ports_exclude = get("ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE");
    config.enable_ipv6 = plan.ipv6;
    match plan.flow {
        Flow::Modern => {
            config.proxy_uid = vec![get("PROXY_UID")];
            config.proxy_gid = vec![get("PROXY_GID")];
            if plan.dns == DnsMode::Capture {
                let (v4, v6) = plan.dns_servers();
                config.redirect_dns = true;
                config.capture_all_dns = v4.is_empty() && v6.is_empty();
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
    if plan.flow == Flow::Legacy {
        out.push_str(
            "# On a 1.0 VM istio.service runs istio-iptables.sh itself at every start,\n\
             # which installs these same rules; its IPv6 INPUT lockdown is not in here.\n",
        );
    }
    out.push_str(&payload.restore);
    out
}

/// One family's restore input and tables, from `generate`'s text.
pub fn payload(text: &str, flavor: Flavor, binary: &str) -> Payload {
    match flavor {
        Flavor::Restore | Flavor::RestoreV1_24 => Payload {
            restore: text.to_owned(),
            tables: parse_restore(text),
        },
        Flavor::Commands | Flavor::Legacy => {
            let tables = parse_commands(text, binary);
            Payload {
                restore: render(&tables),
                tables: tables.iter().map(Parsed::table).collect(),
            }
        }
    }
}

/// A table as parsed: its chains and every rule (from `-A`/`-I` on).
#[derive(Default)]
struct Parsed {
    name: String,
    chains: Vec<String>,
    rules: Vec<String>,
}

impl Parsed {
    fn table(&self) -> Table {
        let hooks = self
            .rules
            .iter()
            .filter_map(|rule| {
                let mut words = rule.split_whitespace();
                let verb = words.next()?;
                let chain = words.next()?;
                if self.chains.iter().any(|c| c == chain) {
                    return None;
                }
                let mut rest: Vec<&str> = words.collect();
                // `-I CHAIN POS …`: delete takes no position.
                if verb == "-I" && rest.first().is_some_and(|p| p.parse::<u32>().is_ok()) {
                    rest.remove(0);
                }
                Some(std::iter::once(chain).chain(rest).collect::<Vec<_>>().join(" "))
            })
            .collect();
        Table {
            name: self.name.clone(),
            chains: self.chains.clone(),
            hooks,
        }
    }
}

fn parse_restore(text: &str) -> Vec<Table> {
    let mut tables = Vec::new();
    let mut current: Option<Parsed> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('*') {
            current = Some(Parsed {
                name: name.trim().to_owned(),
                ..Parsed::default()
            });
        } else if line == "COMMIT" {
            tables.extend(current.take().map(|t| t.table()));
        } else if let Some(table) = current.as_mut() {
            if let Some(chain) = line.strip_prefix("-N ") {
                table.chains.push(chain.trim().to_owned());
            } else if line.starts_with("-A ") || line.starts_with("-I ") {
                table.rules.push(line.to_owned());
            }
        }
    }
    tables
}

/// `<binary> -t <table> <args>` lines, by table (sorted, as the restore
/// form sorts them). Other lines (`ip …`, `ip6tables -F INPUT`) are dropped.
fn parse_commands(text: &str, binary: &str) -> Vec<Parsed> {
    let mut tables: BTreeMap<&str, Parsed> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(binary).and_then(|r| r.strip_prefix(" -t ")) else {
            continue;
        };
        let Some((name, args)) = rest.split_once(' ') else {
            continue;
        };
        let table = tables.entry(name).or_insert_with(|| Parsed {
            name: name.to_owned(),
            ..Parsed::default()
        });
        if let Some(chain) = args.strip_prefix("-N ") {
            let chain = chain.trim().to_owned();
            if !table.chains.contains(&chain) {
                table.chains.push(chain);
            }
        } else if args.starts_with("-A ") || args.starts_with("-I ") {
            table.rules.push(args.to_owned());
        }
    }
    tables.into_values().collect()
}

fn render(tables: &[Parsed]) -> String {
    let mut out = String::new();
    for table in tables
        .iter()
        .filter(|t| !t.chains.is_empty() || !t.rules.is_empty())
    {
        out.push_str(&format!("* {}\n", table.name));
        for chain in &table.chains {
            out.push_str(&format!("-N {chain}\n"));
        }
        for rule in &table.rules {
            out.push_str(rule);
            out.push('\n');
        }
        out.push_str("COMMIT\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_regroup_by_table_keeping_order() {
        let text = "\
iptables -t nat -N ISTIO_REDIRECT
iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001
iptables -t mangle -N ISTIO_DIVERT
iptables -t mangle -A ISTIO_DIVERT -j ACCEPT
ip -f inet rule add fwmark 1337 lookup 133
iptables -t mangle -A PREROUTING -p tcp -j ISTIO_INBOUND
iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT
iptables -t nat -I PREROUTING 1 -i eth9 -j RETURN
ip6tables -F INPUT
";
        let payload = payload(text, Flavor::Legacy, "iptables");
        assert_eq!(
            payload.restore,
            "* mangle\n-N ISTIO_DIVERT\n-A ISTIO_DIVERT -j ACCEPT\n-A PREROUTING -p tcp -j ISTIO_INBOUND\nCOMMIT\n\
             * nat\n-N ISTIO_REDIRECT\n-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001\n\
             -A OUTPUT -p tcp -j ISTIO_OUTPUT\n-I PREROUTING 1 -i eth9 -j RETURN\nCOMMIT\n"
        );
        assert_eq!(
            payload.tables[1].hooks,
            ["OUTPUT -p tcp -j ISTIO_OUTPUT", "PREROUTING -i eth9 -j RETURN"]
        );
        assert_eq!(payload.tables[0].chains, ["ISTIO_DIVERT"]);
    }

    #[test]
    fn restore_input_is_kept_and_parsed() {
        let text = "* nat\n-N ISTIO_OUTPUT\n-A OUTPUT -j ISTIO_OUTPUT\n-A ISTIO_OUTPUT -j RETURN\nCOMMIT\n";
        let payload = payload(text, Flavor::Restore, "iptables");
        assert_eq!(payload.restore, text);
        assert_eq!(
            payload.tables,
            [Table {
                name: "nat".to_owned(),
                chains: vec!["ISTIO_OUTPUT".to_owned()],
                hooks: vec!["OUTPUT -j ISTIO_OUTPUT".to_owned()],
            }]
        );
    }
}
