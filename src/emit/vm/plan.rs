//! What one VM's bundle is made of, resolved once from the checked topology:
//! its sidecar's identity, the ports it serves and keeps out of capture, its
//! home cluster, and the flow and DNS mode it follows. Every file of the
//! bundle is written from a [`VmPlan`], so that `cluster.env`,
//! `sidecar.env`, the iptables rules and the scripts cannot disagree.
//!
//! **The sidecar's identity.** A VM runs one sidecar, so it has one
//! identity even when it runs several workloads:
//!
//! * one workload (the usual case): the WorkloadGroup the Kubernetes
//!   emitter writes for it ([`workload_group::groups`], named
//!   `<service>-<version>`), with that group's labels (`app`, `version`),
//!   service account, network, ports (name → target port) and probe; the
//!   VM's own labels go under them, as on its WorkloadEntry. This is what
//!   `istioctl x workload entry configure -f <group>` would write, and
//!   `ISTIO_META_AUTO_REGISTER_GROUP` names a group that exists.
//! * several workloads (several services, or versions, on one VM): the
//!   sidecar is named after the VM, `app` is the VM's name, `version` is
//!   kept only when every workload has the same one, the ports of all
//!   services are listed (a port name used twice with different numbers is
//!   written `<name>-<service>`, which keeps Istio's protocol prefix), and
//!   namespace, service account and probe are those of the first workload
//!   in (namespace, service, version) order. No WorkloadGroup has that name,
//!   so such a VM cannot auto-register; and policies selecting `app:
//!   <service>` do not select its sidecar. Both are for `check` to report.
//! * no workload: named after the VM, namespace `default`, service account
//!   `default` (or the VM's), every inbound port captured.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::cluster_env::{HealthCheck, HttpGet, ReadinessProbe};
use super::quote::EnvValue;
use crate::check::{Checked, ClusterId, DnsName, Proven, ServiceId, Target, VmId, WorkloadId};
use crate::emit::kubernetes::workload_group;
use crate::model::{Cluster, DnsMode, Flow, Interception, IstioVersion, Mesh, ProbeKind, Service, Vm};

/// The ports the sidecar's own listeners use on every VM, never captured
/// inbound: Envoy's Prometheus endpoint (15090), its health port (15021) and
/// the agent's status port (15020). `workload entry configure` writes the
/// same list, after SSH.
pub const AGENT_PORTS: [u16; 3] = [15090, 15021, 15020];

/// SSH, kept out of inbound capture so that a broken proxy never locks the
/// operator out (istio-iptables hard-coded it up to 1.12), unless a service
/// on the VM listens on it.
pub const SSH_PORT: u16 = 22;

/// One VM, resolved.
#[derive(Clone, Debug)]
pub struct VmPlan<'t> {
    pub vm: &'t Vm,
    pub vm_id: VmId,
    /// What `check` proved, which the env files are written from.
    pub proven: &'t Proven,
    pub mesh: &'t Mesh,
    pub istio: IstioVersion,
    pub flow: Flow,
    /// The cluster whose control plane the VM joins.
    pub home: &'t Cluster,
    pub home_id: ClusterId,
    /// `svc.<home cluster domain>`.
    pub service_domain: &'t DnsName,
    /// The control-plane namespace.
    pub istio_namespace: &'t DnsName,
    /// The mesh's revision.
    pub revision: Option<&'t DnsName>,
    pub identity: Identity,
    /// The target ports of every service on the VM, ascending, once each
    /// ([`crate::check::graph::VmCapture`]).
    pub inbound_ports: Vec<u16>,
    /// Inbound ports never captured: SSH, the agent's ports (modern flow), the SSH port of
    /// `ssh` when it is not 22, then `inbound-exclude-ports`; once each.
    pub local_exclude_ports: Vec<u16>,
    /// Capture IPv6 too: the VM's address is IPv6, or its network has IPv6
    /// ranges.
    pub ipv6: bool,
    pub dns: DnsMode,
    /// The WorkloadEntry the sidecar reports health for
    /// (`ISTIO_META_WORKLOAD_ENTRY`): see
    /// [`workload_group::health_checked_entry`].
    pub workload_entry: Option<EnvValue>,
}

/// Who the sidecar is: what `istioctl x workload entry configure` reads
/// from a WorkloadGroup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The WorkloadGroup's name (or the VM's, see the module doc).
    pub name: EnvValue,
    pub namespace: EnvValue,
    pub service_account: EnvValue,
    pub labels: BTreeMap<String, EnvValue>,
    /// Port name → the port the workload listens on.
    pub ports: BTreeMap<String, u16>,
    pub probe: Option<ReadinessProbe>,
}

impl VmPlan<'_> {
    pub fn interception(&self) -> Interception {
        self.vm.interception()
    }

    /// The home cluster's service ranges.
    pub fn service_cidrs(&self) -> Vec<IpNet> {
        self.home.service_cidrs.iter().map(|s| s.value).collect()
    }

    /// The resolvers whose DNS the agent captures, by family.
    pub fn dns_servers(&self) -> (Vec<IpAddr>, Vec<IpAddr>) {
        self.vm
            .dns_servers
            .iter()
            .map(|s| s.value)
            .partition(IpAddr::is_ipv4)
    }
}

/// Which WorkloadGroup each VM workload belongs to (workload → group
/// name), for [`plan`]: the name [`workload_group::groups`] gives it, made
/// of the words `check` proved.
pub fn group_names(checked: &Checked) -> BTreeMap<WorkloadId, EnvValue> {
    let (ix, proven) = (checked.index(), checked.proven());
    let mut out = BTreeMap::new();
    for g in workload_group::groups(checked.topology(), ix) {
        let Some(&first) = g.workloads.first() else {
            continue; // a group has a member by construction: nothing to name
        };
        let service = &proven.service_words[g.service];
        let mut parts = vec![
            EnvValue::from(&service.name),
            EnvValue::from(&proven.workload_version[first]),
        ];
        if let Target::Vm(v) = ix.workloads[first].target {
            if g.by_network {
                parts.push(EnvValue::from(&proven.vm_words[v].network));
            }
            if g.by_account {
                parts.push(service_account(proven, g.service, Some(v)));
            }
        }
        let name = EnvValue::join(&parts, &DASH);
        debug_assert_eq!(name.as_str(), g.name, "the group's name, from proven words");
        for &w in &g.workloads {
            out.insert(w, name.clone());
        }
    }
    out
}

const DASH: EnvValue = EnvValue::literal("-");

/// [`crate::emit::service_account`], from proven words: the VM's, else the
/// service's, else the service's name.
fn service_account(proven: &Proven, s: ServiceId, vm: Option<VmId>) -> EnvValue {
    let service = &proven.service_words[s];
    vm.and_then(|v| proven.vm_words[v].service_account.as_ref())
        .or(service.service_account.as_ref())
        .map_or_else(|| EnvValue::from(&service.name), EnvValue::from)
}

/// The plan of VM `v`; `group_of` maps a workload to the name of its
/// WorkloadGroup.
pub fn plan<'a>(checked: &'a Checked, v: VmId, group_of: &BTreeMap<WorkloadId, EnvValue>) -> VmPlan<'a> {
    let topo = checked.topology();
    let ix = checked.index();
    let vm = &topo.vms[v];
    let proven = checked.proven();
    let home_id = proven.vm_home[v];
    let home = &topo.clusters[home_id];
    let network = ix.vm_network[v].map(|n| &topo.networks[n]);

    // (namespace, service, version) → service, for a stable order.
    let mut workloads: BTreeMap<(&str, &str, &str), (ServiceId, WorkloadId)> = BTreeMap::new();
    for &w in &ix.vm_workloads[v] {
        let workload = &ix.workloads[w];
        let service = &topo.services[workload.service];
        workloads.insert(
            (&service.namespace.value, &service.name.value, &workload.version),
            (workload.service, w),
        );
    }
    // The keys sort one service's workloads together, so this is each
    // service once, in (namespace, name) order.
    let mut order: Vec<ServiceId> = workloads.values().map(|&(s, _)| s).collect();
    order.dedup();
    let services: Vec<&Service> = order.iter().map(|&s| &topo.services[s]).collect();

    let identity = match workloads.values().next() {
        Some(&(s, w)) if workloads.len() == 1 => {
            let name = match topo.mesh.flow() {
                // The legacy flow has no WorkloadGroup: the sidecar is the
                // service's (`ISTIO_SERVICE`, `--serviceCluster` in 1.0).
                Flow::Legacy => Some(EnvValue::from(&proven.service_words[s].name)),
                // Every VM workload has a group (`workload_group::groups`
                // takes them all); `single` names it like one otherwise.
                Flow::Modern => group_of.get(&w).cloned(),
            };
            single(proven, v, s, w, &topo.services[s], name)
        }
        _ => several(proven, v, &services, &order, &workloads),
    };

    // What check computed the VM's capture to be (its graph's captured-by
    // edges come from the same list).
    let inbound_ports = checked.graph().vm_capture[v].inbound_ports.clone();

    // SSH stays out of capture: the management port `ssh` names (22 when
    // it names none), and 22 as well unless a service on the VM listens
    // there (check allows that only on a VM managed on another port, or
    // not over SSH).
    let mut local_exclude_ports = Vec::new();
    if !inbound_ports.contains(&SSH_PORT) {
        local_exclude_ports.push(SSH_PORT);
    }
    // Istio 1.0's sidecar had none of these listeners (15090 came in 1.1,
    // 15020 and 15021 later), and its cluster.env and sidecar.env never
    // listed them.
    if topo.mesh.flow() == Flow::Modern {
        local_exclude_ports.extend(AGENT_PORTS);
    }
    local_exclude_ports.extend(proven.vm_ssh[v].as_ref().map(|s| s.port));
    local_exclude_ports.extend(vm.inbound_exclude_ports.iter().map(|p| p.value));
    let mut seen = BTreeSet::new();
    local_exclude_ports.retain(|p| seen.insert(*p));

    let ipv6 = vm.address.value.is_ipv6()
        || network.is_some_and(|n| n.cidrs.iter().any(|c| matches!(c.value, IpNet::V6(_))));

    VmPlan {
        vm,
        vm_id: v,
        proven,
        home_id,
        mesh: &topo.mesh,
        istio: topo.mesh.istio.value,
        flow: topo.mesh.flow(),
        home,
        service_domain: &proven.service_domain[home_id],
        istio_namespace: &proven.control_plane_namespace,
        revision: proven.revision.as_ref(),
        identity,
        inbound_ports,
        local_exclude_ports,
        ipv6,
        dns: vm.dns(),
        workload_entry: workload_group::health_checked_workload(topo, ix, v).map(|w| {
            let service = &proven.service_words[ix.workloads[w].service];
            let name = EnvValue::join(
                [
                    &EnvValue::from(&service.name),
                    &EnvValue::from(&proven.workload_version[w]),
                    &EnvValue::from(&proven.vm_words[v].name),
                ],
                &DASH,
            );
            debug_assert_eq!(
                Some(name.as_str()),
                workload_group::health_checked_entry(topo, ix, v).as_deref()
            );
            name
        }),
    }
}

/// The identity of a VM with one workload: its WorkloadGroup's (`name`:
/// the group's, or the service's in the legacy flow).
fn single(
    proven: &Proven,
    v: VmId,
    s: ServiceId,
    w: WorkloadId,
    service: &Service,
    name: Option<EnvValue>,
) -> Identity {
    let words = &proven.service_words[s];
    let version = EnvValue::from(&proven.workload_version[w]);
    let mut labels = vm_labels(proven, v);
    // app/version win over the VM's labels, as on the WorkloadEntry: the
    // Service selector and the DestinationRule subsets depend on them.
    labels.insert("app".to_owned(), EnvValue::from(&words.name));
    labels.insert("version".to_owned(), version.clone());
    Identity {
        name: name.unwrap_or_else(|| EnvValue::join([&EnvValue::from(&words.name), &version], &DASH)),
        namespace: EnvValue::from(&words.namespace),
        service_account: service_account(proven, s, Some(v)),
        labels,
        ports: service
            .ports
            .iter()
            .map(|p| (p.name.value.clone(), p.target_port()))
            .collect(),
        probe: service.probe.as_ref().map(|p| probe(&p.kind)),
    }
}

/// The identity of a VM with several workloads (or none): see the module doc.
fn several(
    proven: &Proven,
    v: VmId,
    services: &[&Service],
    order: &[ServiceId],
    workloads: &BTreeMap<(&str, &str, &str), (ServiceId, WorkloadId)>,
) -> Identity {
    let Some(&first_id) = order.first() else {
        return empty(proven, v);
    };
    let vm = &proven.vm_words[v];
    let mut labels = vm_labels(proven, v);
    labels.insert("app".to_owned(), EnvValue::from(&vm.name));
    let versions: BTreeMap<&str, WorkloadId> = workloads
        .iter()
        .map(|(&(_, _, version), &(_, w))| (version, w))
        .collect();
    if let [only] = versions.values().collect::<Vec<_>>().as_slice() {
        labels.insert(
            "version".to_owned(),
            EnvValue::from(&proven.workload_version[**only]),
        );
    }
    let mut ports = BTreeMap::new();
    for service in services {
        for port in &service.ports {
            let number = port.target_port();
            let name = &port.name.value;
            let candidates = [name.clone(), format!("{name}-{}", service.name.value)];
            for candidate in candidates {
                match ports.get(&candidate) {
                    None => {
                        ports.insert(candidate, number);
                        break;
                    }
                    Some(&n) if n == number => break,
                    Some(_) => {}
                }
            }
        }
    }
    Identity {
        name: EnvValue::from(&vm.name),
        namespace: EnvValue::from(&proven.service_words[first_id].namespace),
        service_account: service_account(proven, first_id, Some(v)),
        labels,
        ports,
        probe: services
            .iter()
            .find_map(|s| s.probe.as_ref())
            .map(|p| probe(&p.kind)),
    }
}

fn empty(proven: &Proven, v: VmId) -> Identity {
    let vm = &proven.vm_words[v];
    let mut labels = vm_labels(proven, v);
    labels
        .entry("app".to_owned())
        .or_insert_with(|| EnvValue::from(&vm.name));
    Identity {
        name: EnvValue::from(&vm.name),
        namespace: EnvValue::literal("default"),
        service_account: vm
            .service_account
            .as_ref()
            .map_or(EnvValue::literal("default"), EnvValue::from),
        labels,
        ports: BTreeMap::new(),
        probe: None,
    }
}

/// The VM's labels (a later duplicate key wins, as in a map literal).
fn vm_labels(proven: &Proven, v: VmId) -> BTreeMap<String, EnvValue> {
    proven.vm_words[v]
        .labels
        .iter()
        .map(|(k, value)| (k.clone(), EnvValue::from(value)))
        .collect()
}

/// The WorkloadGroup `probe` of a service, as the Kubernetes emitter writes
/// it (only the fields the topology can set).
fn probe(kind: &ProbeKind) -> ReadinessProbe {
    let method = match kind {
        ProbeKind::Http { port, path } => HealthCheck::HttpGet(HttpGet {
            // Not a fallback: an empty path is the probe's `/` default, as upstream omits it.
            path: path.as_ref().map(|p| p.value.clone()).unwrap_or_default(),
            port: port.value,
            ..HttpGet::default()
        }),
        ProbeKind::Tcp { port } => HealthCheck::TcpSocket {
            host: String::new(),
            port: port.value,
        },
        ProbeKind::Exec { command } => HealthCheck::Exec {
            command: command.iter().map(|c| c.value.clone()).collect(),
        },
    };
    ReadinessProbe {
        method: Some(method),
        ..ReadinessProbe::default()
    }
}
