//! VM files → facts: `cluster.env`, `sidecar.env` and meshc's own bundle
//! files (`install.sh`'s variables, a `dnsmasq.conf`), plus meshc's
//! `RUNBOOK.md` for what no Kubernetes object holds (the mesh's name, the
//! Istio release line, each VM's `ssh` target and the VMs' order).
//!
//! These files are shell-style `KEY=value` (values single-quoted by meshc,
//! bare by `istioctl x workload entry configure`), read by the bash reader
//! of `vm_files` (env files whole, scripts for the variables below only):
//! a value is what bash makes of it, and one bash would compute is
//! reported, never evaluated nor taken as written.

use std::collections::BTreeMap;

use super::Path;
use super::kubernetes::Facts;
use crate::diagnostic::Diagnostic;
use crate::source::{Span, Spanned};

type S = Spanned<String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmFile {
    ClusterEnv,
    SidecarEnv,
    InstallSh,
    Dnsmasq,
    IptablesRules,
    IptablesSh,
}

impl VmFile {
    pub fn of(file_name: &str) -> Option<VmFile> {
        match file_name {
            "cluster.env" => Some(VmFile::ClusterEnv),
            "sidecar.env" => Some(VmFile::SidecarEnv),
            "install.sh" => Some(VmFile::InstallSh),
            "dnsmasq.conf" => Some(VmFile::Dnsmasq),
            "iptables.rules" => Some(VmFile::IptablesRules),
            "iptables.sh" => Some(VmFile::IptablesSh),
            _ => None,
        }
    }
}

/// What one VM's files say.
#[derive(Debug, Default, Clone)]
pub struct VmFacts {
    pub span: Span,
    /// Every key of `cluster.env` and `sidecar.env`, with its value's span.
    pub env: BTreeMap<String, S>,
    /// `install.sh`'s `cluster=`, `proxy_uid=`, `proxy_gid=`,
    /// `service_account=`.
    pub install: BTreeMap<String, S>,
    pub dnsmasq: bool,
    pub ssh: Option<S>,
    /// Resolvers whose port-53 traffic `iptables.rules` redirects.
    pub dns_servers: Vec<Spanned<std::net::IpAddr>>,
    /// `iptables.sh`'s `resolv_dns=false`: the resolvers are not read from
    /// /etc/resolv.conf.
    pub pinned_dns: bool,
}

/// The ports meshc's bundles always exclude from inbound capture (ssh, and
/// Envoy's and the agent's own ports).
pub const DEFAULT_INBOUND_EXCLUDES: [u16; 4] = [22, 15090, 15021, 15020];

pub fn read(
    file: VmFile,
    source: &crate::source::Source,
    base: usize,
    path: &Path,
    facts: &mut Facts,
    diags: &mut Vec<Diagnostic>,
) {
    let text = source.text.as_str();
    let vm = path.vm.clone().unwrap_or_else(|| "vm".to_owned());
    let f = facts.vms.entry(vm).or_default();
    if f.span == Span::default() {
        f.span = Span::new(base, base);
    }
    match file {
        // sidecar.env holds the capture keys meshc built the rules from;
        // cluster.env repeats some of them: sidecar.env's win.
        VmFile::ClusterEnv => {
            for (k, v) in shifted(super::vm_files::cluster_env(source), base, diags) {
                f.env.entry(k).or_insert(v);
            }
        }
        VmFile::SidecarEnv => f
            .env
            .extend(shifted(super::vm_files::cluster_env(source), base, diags)),
        VmFile::IptablesSh => {
            let vars = super::vm_files::script_variables(source, &["resolv_dns"]);
            f.pinned_dns = shifted(vars, base, diags)
                .last()
                .is_some_and(|(_, v)| v.value == "false");
        }
        VmFile::IptablesRules => {
            let mut offset = 0;
            for line in text.split_inclusive('\n') {
                let start = base + offset;
                offset += line.len();
                let Some(rest) = line.strip_prefix("-A ISTIO_OUTPUT -p udp --dport 53 -d ") else {
                    continue;
                };
                let Some((addr, tail)) = rest.split_once(' ') else {
                    continue;
                };
                if !tail.starts_with("-j REDIRECT") {
                    continue;
                }
                let ip = addr.split('/').next().unwrap_or_default();
                if let Ok(ip) = ip.parse() {
                    let at = start + line.len() - rest.len();
                    let server = Spanned::new(ip, Span::new(at, at + addr.len()));
                    if !f.dns_servers.iter().any(|d| d.value == server.value) {
                        f.dns_servers.push(server);
                    }
                }
            }
        }
        VmFile::InstallSh => {
            let vars = super::vm_files::script_variables(
                source,
                &["cluster", "proxy_uid", "proxy_gid", "service_account"],
            );
            f.install.extend(shifted(vars, base, diags));
        }
        VmFile::Dnsmasq => f.dnsmasq = true,
    }
}

/// A VM file as the VM-file readers read it (an env file as
/// `istio-start.sh` sources it, a script's variables as bash sets them):
/// values as bash sees them; what bash would compute or a line it would
/// choke on is their diagnostic, shifted into import's span space.
fn shifted(
    parsed: super::vm_files::Parsed<super::vm_files::EnvEntry>,
    base: usize,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, S)> {
    for mut d in parsed.diagnostics {
        for l in &mut d.labels {
            l.span = Span::new(l.span.start + base, l.span.end + base);
        }
        diags.push(d);
    }
    parsed
        .entries
        .into_iter()
        .map(|e| {
            let span = Span::new(e.value.span.start + base, e.value.span.end + base);
            (e.key.value, Spanned::new(e.value.value, span))
        })
        .collect()
}

/// meshc's runbook: `# Runbook: mesh `NAME`, Istio X.Y`, and per VM the
/// line that copies its bundle (`tar -C vms/VM … | ssh TARGET …`).
pub fn read_runbook(text: &str, base: usize, facts: &mut Facts) {
    let mut offset = 0;
    // Clusters: the network-label lines list every one in order; the
    // apply lines those with objects; any `--context` the rest.
    let mut labelled = Vec::new();
    let mut applied = Vec::new();
    let mut seen = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            if w == "--context"
                && let Some(c) = words.next()
                && !c.starts_with('"')
                && !seen.iter().any(|s| s == c)
            {
                seen.push(c.to_owned());
            }
        }
        if let Some(rest) = line.strip_prefix("kubectl --context ") {
            let c = rest.split(' ').next().unwrap_or_default().to_owned();
            if rest.contains(" label namespace ") && !labelled.contains(&c) {
                labelled.push(c);
            } else if rest.contains(" apply -R -f kubernetes/clusters/") && !applied.contains(&c) {
                applied.push(c);
            }
        }
    }
    let mut order = if labelled.is_empty() { applied } else { labelled };
    for c in seen {
        if !order.contains(&c) {
            order.push(c);
        }
    }
    facts.cluster_order = order;
    for line in text.split_inclusive('\n') {
        let start = base + offset;
        offset += line.len();
        if let Some(ingress) = ingress_line(line, start) {
            facts.ingresses.push(ingress);
        }
        if let Some(w) = workload_line(line) {
            facts.runbook_workloads.push(w);
        }
        if let Some(rest) = line.strip_prefix("# Runbook: mesh `")
            && let Some((name, rest)) = rest.split_once('`')
        {
            facts.mesh_name = Some(Spanned::new(
                name.to_owned(),
                Span::new(start + 17, start + 17 + name.len()),
            ));
            if let Some(v) = rest.trim().strip_prefix(", Istio ") {
                let at = line.len() - line.trim_start_matches(|c| c != ',').len();
                facts.istio = Some(Spanned::new(
                    v.trim().to_owned(),
                    Span::new(start + at, start + line.trim_end().len()),
                ));
            }
        }
        if let Some(rest) = line.strip_prefix("tar -C vms/")
            && let Some((vm, rest)) = rest.split_once(' ')
        {
            if !facts.vm_order.iter().any(|v| v == vm) {
                facts.vm_order.push(vm.to_owned());
            }
            if let Some((_, after)) = rest.split_once("| ssh ")
                && let Some(target) = after.split(' ').next()
                && !after.starts_with('<')
            {
                let at = line.len() - after.len();
                let f = facts.vms.entry(vm.to_owned()).or_default();
                f.ssh = Some(Spanned::new(
                    target.to_owned(),
                    Span::new(start + at, start + at + target.len()),
                ));
            }
        }
    }
}

/// `- `VM` (SERVICE-VERSION in `NS`), from ADDRESS`, the runbook's line
/// for a VM workload: (VM, `SERVICE-VERSION`, NS).
fn workload_line(line: &str) -> Option<(String, String, String)> {
    let rest = line.strip_prefix("- `")?;
    let (vm, rest) = rest.split_once("` (")?;
    let (workload, rest) = rest.split_once(" in `")?;
    let (ns, _) = rest.split_once("`), from ")?;
    Some((vm.to_owned(), workload.to_owned(), ns.to_owned()))
}

/// `- `NAME` in `NS`: HOW, running as `SA`.`, the runbook's line for a
/// declared ingress gateway.
fn ingress_line(line: &str, start: usize) -> Option<crate::model::Ingress> {
    use crate::model::{Ingress, IngressKind};
    let rest = line.strip_prefix("- `")?;
    let (name, rest) = rest.split_once("` in `")?;
    let (ns, how) = rest.split_once("`: ")?;
    if !how.contains(", running as `") {
        return None;
    }
    let kind = if how.starts_with("an istioctl gateway") {
        IngressKind::Istioctl
    } else if how.starts_with("`helm install") {
        IngressKind::Helm
    } else if how.starts_with("a Gateway API") {
        IngressKind::GatewayApi
    } else {
        return None;
    };
    let span = Span::new(start + 3, start + 3 + name.len());
    Some(Ingress {
        name: Spanned::new(name.to_owned(), span),
        kind: Some(Spanned::new(kind, span)),
        namespace: Some(Spanned::new(ns.to_owned(), span)),
        span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runbook_gives_name_version_order_and_ssh() {
        let mut facts = Facts::default();
        read_runbook(
            "# Runbook: mesh `shop`, Istio 1.24\n\ntar -C vms/b -cf - . | ssh root@10.0.0.1 'x'\ntar -C vms/a -cf - . | ssh <the VM> 'x'\n\
             - `b` (web-v1 in `shop`), from 10.0.0.1\n- `b` (db-cache-v2 in `shop`), from 10.0.0.1\n",
            0,
            &mut facts,
        );
        assert_eq!(facts.mesh_name.map(|n| n.value), Some("shop".to_owned()));
        assert_eq!(facts.istio.map(|n| n.value), Some("1.24".to_owned()));
        assert_eq!(facts.vm_order, ["b", "a"]);
        let w = |vm: &str, wl: &str| (vm.to_owned(), wl.to_owned(), "shop".to_owned());
        assert_eq!(facts.runbook_workloads, [w("b", "web-v1"), w("b", "db-cache-v2")]);
        assert_eq!(
            facts.vms["b"].ssh.as_ref().map(|s| s.value.as_str()),
            Some("root@10.0.0.1")
        );
        assert!(facts.vms.get("a").is_none_or(|v| v.ssh.is_none()));
    }
}
