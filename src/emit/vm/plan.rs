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
use crate::check::{Checked, DnsName, ServiceId, VmId, WorkloadId};
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
    pub mesh: &'t Mesh,
    pub istio: IstioVersion,
    pub flow: Flow,
    /// The cluster whose control plane the VM joins.
    pub home: &'t Cluster,
    /// `svc.<home cluster domain>`.
    pub service_domain: &'t DnsName,
    /// The control-plane namespace.
    pub istio_namespace: &'t DnsName,
    /// The mesh's revision.
    pub revision: Option<&'t DnsName>,
    pub identity: Identity,
    /// The target ports of every service on the VM, ascending, once each.
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
    pub workload_entry: Option<String>,
}

/// Who the sidecar is: what `istioctl x workload entry configure` reads
/// from a WorkloadGroup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The WorkloadGroup's name (or the VM's, see the module doc).
    pub name: String,
    pub namespace: String,
    pub service_account: String,
    pub labels: BTreeMap<String, String>,
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
/// name), for [`plan`].
pub fn group_names(checked: &Checked) -> BTreeMap<WorkloadId, String> {
    let mut out = BTreeMap::new();
    for g in workload_group::groups(checked.topology(), checked.index()) {
        for &w in &g.workloads {
            out.insert(w, g.name.clone());
        }
    }
    out
}

/// The plan of VM `v`; `group_of` maps a workload to the name of its
/// WorkloadGroup.
pub fn plan<'a>(checked: &'a Checked, v: VmId, group_of: &BTreeMap<WorkloadId, String>) -> VmPlan<'a> {
    let topo = checked.topology();
    let ix = checked.index();
    let vm = &topo.vms[v];
    let proven = checked.proven();
    let home_id = proven.vm_home[v];
    let home = &topo.clusters[home_id];
    let network = ix.vm_network[v].map(|n| &topo.networks[n]);

    // (namespace, service, version) → service, for a stable order.
    let mut workloads: BTreeMap<(&str, &str, &str), ServiceId> = BTreeMap::new();
    for &w in &ix.vm_workloads[v] {
        let workload = &ix.workloads[w];
        let service = &topo.services[workload.service];
        workloads.insert(
            (&service.namespace.value, &service.name.value, &workload.version),
            workload.service,
        );
    }
    // The keys sort one service's workloads together, so this is each
    // service once, in (namespace, name) order.
    let mut order: Vec<ServiceId> = workloads.values().copied().collect();
    order.dedup();
    let services: Vec<&Service> = order.iter().map(|&s| &topo.services[s]).collect();

    let identity = match workloads.iter().next() {
        Some((&(_, _, version), &s)) if workloads.len() == 1 => {
            let name = match topo.mesh.flow() {
                // The legacy flow has no WorkloadGroup: the sidecar is the
                // service's (`ISTIO_SERVICE`, `--serviceCluster` in 1.0).
                Flow::Legacy => Some(topo.services[s].name.value.clone()),
                // Every VM workload has a group (`workload_group::groups`
                // takes them all); `single` names it like one otherwise.
                Flow::Modern => ix.vm_workloads[v]
                    .iter()
                    .find(|&&w| ix.workloads[w].service == s && ix.workloads[w].version == version)
                    .and_then(|w| group_of.get(w).cloned()),
            };
            single(vm, &topo.services[s], version, name)
        }
        _ => several(vm, &services, &workloads),
    };

    let mut inbound_ports: Vec<u16> = services
        .iter()
        .flat_map(|s| s.ports.iter().map(|p| p.target_port()))
        .collect();
    inbound_ports.sort_unstable();
    inbound_ports.dedup();

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
        workload_entry: workload_group::health_checked_entry(topo, ix, v),
    }
}

/// The identity of a VM with one workload: its WorkloadGroup's (`name`:
/// the group's, or the service's in the legacy flow).
fn single(vm: &Vm, service: &Service, version: &str, name: Option<String>) -> Identity {
    let mut labels = vm_labels(vm);
    // app/version win over the VM's labels, as on the WorkloadEntry: the
    // Service selector and the DestinationRule subsets depend on them.
    labels.insert("app".to_owned(), service.name.value.clone());
    labels.insert("version".to_owned(), version.to_owned());
    Identity {
        name: name.unwrap_or_else(|| {
            format!(
                "{}-{}",
                service.name.value,
                workload_group::object_name_part(version)
            )
        }),
        namespace: service.namespace.value.clone(),
        service_account: crate::emit::service_account(service, Some(vm)).to_owned(),
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
fn several(vm: &Vm, services: &[&Service], workloads: &BTreeMap<(&str, &str, &str), ServiceId>) -> Identity {
    let Some(first) = services.first() else {
        return empty(vm);
    };
    let mut labels = vm_labels(vm);
    labels.insert("app".to_owned(), vm.name.value.clone());
    let versions: BTreeSet<&str> = workloads.keys().map(|&(_, _, version)| version).collect();
    if let [only] = versions.into_iter().collect::<Vec<_>>().as_slice() {
        labels.insert("version".to_owned(), (*only).to_owned());
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
        name: vm.name.value.clone(),
        namespace: first.namespace.value.clone(),
        service_account: crate::emit::service_account(first, Some(vm)).to_owned(),
        labels,
        ports,
        probe: services
            .iter()
            .find_map(|s| s.probe.as_ref())
            .map(|p| probe(&p.kind)),
    }
}

fn empty(vm: &Vm) -> Identity {
    let mut labels = vm_labels(vm);
    labels
        .entry("app".to_owned())
        .or_insert_with(|| vm.name.value.clone());
    Identity {
        name: vm.name.value.clone(),
        namespace: "default".to_owned(),
        service_account: vm
            .service_account
            .as_ref()
            .map_or_else(|| "default".to_owned(), |s| s.value.clone()),
        labels,
        ports: BTreeMap::new(),
        probe: None,
    }
}

fn vm_labels(vm: &Vm) -> BTreeMap<String, String> {
    vm.labels
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
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
