//! What `check` proved, kept in the form the emitters use: a VM's home
//! cluster as an id (not an `Option`), its `ssh` target parsed, the DNS
//! names that reach dnsmasq and hosts lines unquoted as [`DnsName`]s, and
//! the names, label values and settings the VM env files are written from
//! as [`Word`]s (which hold no NUL, so every env value made of them can be
//! written).
//!
//! Each fact is established by the same function the rule that refuses its
//! absence uses (`parse_ssh` for E407, the DNS classes for E401/E406), or
//! follows from rules that already passed (E301, E305 and E701 leave every
//! VM one home). Should a fact still not hold, that is a gap between a rule
//! and its proof: the topology is refused with a diagnostic under the code
//! of the rule that owns the fact, never handed to an emitter.

use std::fmt;

use super::id::{ClusterId, IdVec, ServiceId, VmId, WorkloadId};
use super::index::Index;
use super::rules::lexical::{Class, parse_ssh, shown};
use super::rules::{
    ambiguous_home_cluster, invalid_dns_label, invalid_dns_subdomain, invalid_label_value,
    invalid_service_name, invalid_ssh_target, invalid_version,
};
use crate::diagnostic::{Code, Diagnostic, codes};
use crate::model::Topology;
use crate::source::Span;

/// A name `check` proved to be dot-separated DNS-1123 labels, 253
/// characters at most: safe unquoted in a dnsmasq or hosts line, where
/// `#`, `/` or a blank would change the line's meaning. Only `check`
/// makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsName(String);

impl DnsName {
    fn proven(name: String) -> Option<DnsName> {
        Class::Subdomain.accepts(&name).then_some(DnsName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text `check` proved to belong to a strict lexical class (a DNS-1123
/// name, a label value, a choice word): ASCII letters, digits, `-`, `_`
/// and `.`, so never a NUL, which no env file can carry. The VM's
/// `cluster.env` and `sidecar.env` are written from these. Only `check`
/// makes one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Word(String);

impl Word {
    fn proven(class: Class, text: &str) -> Option<Word> {
        class.accepts(text).then(|| Word(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A VM's words (E401, E404, E406).
#[derive(Clone, Debug)]
pub struct VmWords {
    pub name: Word,
    pub network: Word,
    pub service_account: Option<Word>,
    /// Its labels in source order, the values proven (the keys reach env
    /// files only inside JSON).
    pub labels: Vec<(String, Word)>,
}

/// A service's words (E402, E401, E406).
#[derive(Clone, Debug)]
pub struct ServiceWords {
    pub name: Word,
    pub namespace: Word,
    pub service_account: Option<Word>,
}

/// A VM's `ssh` setting, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    /// 22 when the setting names none.
    pub port: u16,
}

/// The facts, per declaration.
#[derive(Clone, Debug)]
pub struct Proven {
    /// Per VM: the cluster whose control plane it joins.
    pub vm_home: IdVec<VmId, ClusterId>,
    /// Per VM: its `ssh` target, when it has one.
    pub vm_ssh: IdVec<VmId, Option<SshTarget>>,
    /// The control-plane namespace (E401).
    pub control_plane_namespace: DnsName,
    /// Per cluster: `svc.<cluster domain>`, the suffix kube-dns answers for
    /// (E406; E408 bounds the names under it).
    pub service_domain: IdVec<ClusterId, DnsName>,
    /// The mesh's revision, when it has one (E401).
    pub revision: Option<DnsName>,
    /// Per VM: its words.
    pub vm_words: IdVec<VmId, VmWords>,
    /// Per service: its words.
    pub service_words: IdVec<ServiceId, ServiceWords>,
    /// Per workload: its version (E403).
    pub workload_version: IdVec<WorkloadId, Word>,
    /// Per cluster: the id its VMs report (E404).
    pub cluster_id: IdVec<ClusterId, Word>,
    /// The mesh id, when set (E404).
    pub mesh_id: Option<Word>,
    /// The trust domain (E406).
    pub trust_domain: Word,
    /// `control-plane-auth`, when set: one of its choice words (E204).
    pub control_plane_auth: Option<Word>,
}

impl Proven {
    /// Establishes every fact, or says which does not hold.
    pub fn establish(topo: &Topology, ix: &Index) -> Result<Proven, Vec<Diagnostic>> {
        let mut gaps = Vec::new();
        let mut vm_home = IdVec::default();
        let mut vm_ssh = IdVec::default();
        for (v, vm) in topo.vm_ids() {
            match ix.vm_cluster[v] {
                Some(c) => {
                    vm_home.push(c);
                }
                None => gaps.push(
                    Diagnostic::new(
                        &ambiguous_home_cluster::CODE,
                        vm.name.span,
                        format!("meshc cannot tell which cluster VM `{}` joins", vm.name.value),
                    )
                    .help("add `cluster NAME` to the VM, naming a cluster that runs a control plane"),
                ),
            }
            let ssh = vm.ssh.as_ref().and_then(|s| match parse_ssh(&s.value) {
                Ok(t) => Some(SshTarget {
                    user: t.user.map(str::to_owned),
                    host: t.host.to_owned(),
                    port: t.port,
                }),
                Err(problem) => {
                    gaps.push(
                        Diagnostic::new(&invalid_ssh_target::CODE, s.span, format!("`ssh` {problem}"))
                            .help("write `[user@]host[:port]`, e.g. \"root@192.168.3.201\""),
                    );
                    None
                }
            });
            vm_ssh.push(ssh);
        }
        let mut dns = |name: String, span, code, what: &str| {
            DnsName::proven(name.clone()).or_else(|| {
                gaps.push(
                    Diagnostic::new(code, span, format!("{what} `{name}` is not a DNS name"))
                        .help("use dot-separated lower-case labels of letters, digits and `-`, at most 253 characters in all"),
                );
                None
            })
        };
        let mesh = &topo.mesh;
        let control_plane_namespace = dns(
            mesh.control_plane_namespace().to_owned(),
            mesh.control_plane_namespace
                .as_ref()
                .map_or(mesh.name.span, |n| n.span),
            &invalid_dns_label::CODE,
            "the control-plane namespace",
        );
        let revision = mesh
            .revision
            .as_ref()
            .map(|r| dns(r.value.clone(), r.span, &invalid_dns_label::CODE, "the revision"));
        let service_domain: IdVec<ClusterId, Option<DnsName>> = topo
            .clusters
            .iter()
            .map(|c| {
                dns(
                    format!("svc.{}", c.cluster_domain()),
                    c.cluster_domain.as_ref().map_or(c.name.span, |d| d.span),
                    &invalid_dns_subdomain::CODE,
                    "the service domain",
                )
            })
            .collect();
        let mut word = |class: Class, text: &str, span: Span, code: &'static Code, what: &str| {
            Word::proven(class, text).or_else(|| {
                gaps.push(
                    Diagnostic::new(
                        code,
                        span,
                        format!("{what} `{}` is not {}", shown(text), class.noun()),
                    )
                    .help(class.rule()),
                );
                None
            })
        };
        let vm_words: Vec<Option<VmWords>> = topo
            .vms
            .iter()
            .map(|vm| {
                let name = word(
                    Class::DnsLabel,
                    &vm.name.value,
                    vm.name.span,
                    &invalid_dns_label::CODE,
                    "the VM name",
                );
                let network = word(
                    Class::DnsLabel,
                    &vm.network.value,
                    vm.network.span,
                    &invalid_dns_label::CODE,
                    "the network name",
                );
                let service_account = vm.service_account.as_ref().map(|sa| {
                    word(
                        Class::Subdomain,
                        &sa.value,
                        sa.span,
                        &invalid_dns_subdomain::CODE,
                        "the service account",
                    )
                });
                let labels: Vec<Option<(String, Word)>> = vm
                    .labels
                    .0
                    .iter()
                    .map(|(k, v)| {
                        word(
                            Class::LabelValue,
                            &v.value,
                            v.span,
                            &invalid_label_value::CODE,
                            "the label value",
                        )
                        .map(|v| (k.value.clone(), v))
                    })
                    .collect();
                Some(VmWords {
                    name: name?,
                    network: network?,
                    service_account: service_account.map_or(Some(None), |sa| sa.map(Some))?,
                    labels: labels.into_iter().collect::<Option<_>>()?,
                })
            })
            .collect();
        let service_words: Vec<Option<ServiceWords>> = topo
            .services
            .iter()
            .map(|s| {
                let name = word(
                    Class::Dns1035,
                    &s.name.value,
                    s.name.span,
                    &invalid_service_name::CODE,
                    "the service name",
                );
                let namespace = word(
                    Class::DnsLabel,
                    &s.namespace.value,
                    s.namespace.span,
                    &invalid_dns_label::CODE,
                    "the namespace",
                );
                let service_account = s.service_account.as_ref().map(|sa| {
                    word(
                        Class::Subdomain,
                        &sa.value,
                        sa.span,
                        &invalid_dns_subdomain::CODE,
                        "the service account",
                    )
                });
                Some(ServiceWords {
                    name: name?,
                    namespace: namespace?,
                    service_account: service_account.map_or(Some(None), |sa| sa.map(Some))?,
                })
            })
            .collect();
        let workload_version: Vec<Option<Word>> = ix
            .workloads
            .iter()
            .map(|w| {
                word(
                    Class::DnsLabel,
                    &w.version,
                    w.span,
                    &invalid_version::CODE,
                    "the version",
                )
            })
            .collect();
        let cluster_id: Vec<Option<Word>> = topo
            .clusters
            .iter()
            .map(|c| {
                let span = c.cluster_id.as_ref().map_or(c.name.span, |i| i.span);
                word(
                    Class::LabelValue,
                    c.cluster_id(),
                    span,
                    &invalid_label_value::CODE,
                    "the cluster id",
                )
            })
            .collect();
        let mesh_id = mesh.mesh_id.as_ref().map(|m| {
            word(
                Class::LabelValue,
                &m.value,
                m.span,
                &invalid_label_value::CODE,
                "the mesh id",
            )
        });
        let trust_domain = word(
            Class::Subdomain,
            mesh.trust_domain(),
            mesh.trust_domain.as_ref().map_or(mesh.name.span, |t| t.span),
            &invalid_dns_subdomain::CODE,
            "the trust domain",
        );
        let control_plane_auth = mesh.control_plane_auth.as_ref().map(|a| {
            word(
                Class::LabelValue,
                &a.value,
                a.span,
                &codes::INVALID_VALUE,
                "`control-plane-auth`",
            )
        });
        let words = (
            all(vm_words),
            all(service_words),
            all(workload_version),
            all(cluster_id),
            mesh_id.map_or(Some(None), |m| m.map(Some)),
            trust_domain,
            control_plane_auth.map_or(Some(None), |a| a.map(Some)),
        );
        match (control_plane_namespace, words) {
            (
                Some(control_plane_namespace),
                (
                    Some(vm_words),
                    Some(service_words),
                    Some(workload_version),
                    Some(cluster_id),
                    Some(mesh_id),
                    Some(trust_domain),
                    Some(control_plane_auth),
                ),
            ) if gaps.is_empty() => Ok(Proven {
                vm_home,
                vm_ssh,
                control_plane_namespace,
                service_domain: service_domain.iter().flatten().cloned().collect(),
                revision: revision.flatten(),
                vm_words,
                service_words,
                workload_version,
                cluster_id,
                mesh_id,
                trust_domain,
                control_plane_auth,
            }),
            // When lowering refused something (an error it reported), a
            // fact may be missing for that reason alone: the topology is
            // refused already, and the gap is not reported again.
            _ if refused(topo) => Err(Vec::new()),
            _ => Err(gaps),
        }
    }
}

/// Every fact of a table, or none when one does not hold.
fn all<I, T>(facts: Vec<Option<T>>) -> Option<IdVec<I, T>> {
    facts.into_iter().collect()
}

/// Whether lowering left out a setting or a declaration.
fn refused(topo: &Topology) -> bool {
    !topo.dropped.settings.is_empty()
        || !topo.dropped.declarations.is_empty()
        || !topo.invalid_names.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Id;
    use crate::source::Source;
    use crate::syntax::{Limits, Syntax};

    const MESH: &str = r#"
mesh m { istio "1.24"; control-plane-namespace istio-cp; revision canary }
network vpc { cidr "10.0.0.0/16" }
cluster a { network vpc; control-plane #true; cluster-domain "corp.example" }
cluster b { network vpc; control-plane #true }
vm db { address "10.0.1.5"; network vpc; cluster b; ssh "ops@10.0.1.5:2222" }
vm web { address "10.0.1.6"; network vpc; cluster a }
"#;

    fn topology(text: &str) -> Topology {
        let source = Source::new("t.kdl", text.to_owned());
        let (topo, diags) = crate::front_end(&source, Syntax::Kdl, Limits::default());
        assert!(diags.is_empty(), "{diags:#?}");
        topo.expect("parses")
    }

    #[test]
    fn a_checked_topology_carries_its_facts_parsed() {
        let topo = topology(MESH);
        let ix = Index::build(&topo);
        let p = Proven::establish(&topo, &ix).expect("every fact holds");
        let (db, web) = (VmId::new(0), VmId::new(1));
        assert_eq!(topo.clusters[p.vm_home[db]].name.value, "b");
        assert_eq!(topo.clusters[p.vm_home[web]].name.value, "a");
        assert_eq!(
            p.vm_ssh[db],
            Some(SshTarget {
                user: Some("ops".to_owned()),
                host: "10.0.1.5".to_owned(),
                port: 2222
            })
        );
        assert_eq!(p.vm_ssh[web], None);
        assert_eq!(p.control_plane_namespace.as_str(), "istio-cp");
        assert_eq!(p.revision.as_ref().map(DnsName::as_str), Some("canary"));
        let domains: Vec<&str> = p.service_domain.iter().map(DnsName::as_str).collect();
        assert_eq!(domains, ["svc.corp.example", "svc.cluster.local"]);
    }

    /// The proofs do not trust the rules: a fact that does not hold is a
    /// diagnostic under the owning rule's code, never a `Checked`.
    #[test]
    fn a_fact_that_does_not_hold_is_a_diagnostic_not_a_default() {
        let text = MESH
            .replace("cluster b; ssh \"ops@10.0.1.5:2222\"", "ssh \"ops@10.0.1.5:0\"")
            .replace("istio-cp", "Istio_CP");
        let topo = topology(&text);
        let ix = Index::build(&topo);
        let gaps = Proven::establish(&topo, &ix).expect_err("facts missing");
        let codes: Vec<&str> = gaps.iter().map(|d| d.code.code).collect();
        assert_eq!(codes, ["E305", "E407", "E401"], "{gaps:#?}");
        assert!(
            gaps.iter()
                .all(|d| !d.help.as_deref().unwrap_or_default().is_empty())
        );
    }

    /// The env files are written from words: one that is not in its class
    /// (a NUL, which no env file can carry, say) is a gap under the rule
    /// that owns it, never a `Word`.
    #[test]
    fn env_text_is_proven_or_refused() {
        let topo = topology(MESH);
        let p = Proven::establish(&topo, &Index::build(&topo)).expect("every fact holds");
        assert_eq!(p.vm_words[VmId::new(0)].name.as_str(), "db");
        assert_eq!(p.cluster_id[p.vm_home[VmId::new(0)]].as_str(), "b");
        assert_eq!(p.trust_domain.as_str(), "cluster.local");
        let text = MESH
            .replace("revision canary", "revision canary; mesh-id \"m\\u{0}\"")
            .replace(
                "network vpc; cluster a }",
                "network vpc; cluster a; labels tier=\"x\\u{0}y\" }",
            );
        let topo = topology(&text);
        let gaps = Proven::establish(&topo, &Index::build(&topo)).expect_err("NULs");
        let codes: Vec<&str> = gaps.iter().map(|d| d.code.code).collect();
        assert_eq!(codes, ["E404", "E404"], "{gaps:#?}");
        assert!(gaps.iter().all(|d| d.message.contains("\\u{0}")), "{gaps:#?}");
    }

    /// A `cluster` lowering refused is reported there (E204): the missing
    /// home is not reported again, and no `Checked` comes of it.
    #[test]
    fn a_refused_setting_is_not_reported_twice() {
        let text = MESH.replace("cluster b; ssh", "cluster 5; ssh");
        let source = Source::new("t.kdl", text);
        let (topo, diags) = crate::front_end(&source, Syntax::Kdl, Limits::default());
        let codes: Vec<&str> = diags.iter().map(|d| d.code.code).collect();
        assert_eq!(codes, ["E204"]);
        let topo = topo.expect("lowered without the setting");
        let gaps = Proven::establish(&topo, &Index::build(&topo)).expect_err("no home");
        assert!(gaps.is_empty(), "{gaps:#?}");
    }
}
