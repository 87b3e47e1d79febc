//! Kubernetes manifests: what `kubectl apply -f` needs in each cluster for
//! the VMs to join the mesh, their services to be found, traffic to be
//! routed by version, and (modern flow) every workload limited to the calls
//! the topology declares.
//!
//! # Layout
//!
//! ```text
//! kubernetes/mesh/<namespace>/service-<name>.yaml                  Istio configuration of one service
//! kubernetes/clusters/<cluster>/<namespace>/namespace.yaml         Namespace, ServiceAccounts
//! kubernetes/clusters/<cluster>/<namespace>/service-<name>.yaml    the cluster's own objects of one service
//! kubernetes/clusters/<cluster>/<control-plane-ns>/mesh-expansion.yaml   istiod exposure / ILBs
//! kubernetes/clusters/<cluster>/kube-system/mesh-expansion.yaml    legacy dns-ilb
//! ```
//!
//! To deploy: `kubectl apply -R -f kubernetes/clusters/<cluster>` in each
//! cluster, then `kubectl apply -R -f kubernetes/mesh` in each cluster that
//! runs a control plane (the cluster directory creates the namespaces the
//! mesh directory's objects live in).
//!
//! One file per service, and one copy of what is the same everywhere. The
//! Istio configuration of a service (routing, least privilege, a
//! ServiceEntry) is identical in every control-plane cluster, so it is
//! written once, under `mesh/`, instead of once per cluster: a routing
//! change shows up in review as a diff of one file, not of one identical
//! file per primary, and a mesh of ten thousand services with nine
//! primaries stays near ten thousand files instead of ninety thousand (the
//! cost of a large build is dominated by writing files). What differs per
//! cluster (where a Service must exist, a VM's WorkloadEntry in its home
//! cluster) stays in that cluster's directory. One file per object would
//! multiply the file count by up to seven for no gain in review: a
//! service's objects change together. `check` (E708) makes every
//! control-plane cluster share one cluster domain, the only cluster fact
//! the shared configuration depends on (it names hosts
//! `<svc>.<ns>.svc.<domain>`).
//!
//! Inside a file objects come in a fixed kind order (Namespace,
//! ServiceAccount, Service, Endpoints, ServiceEntry, WorkloadGroup,
//! WorkloadEntry, Gateway, DestinationRule, VirtualService, Sidecar,
//! AuthorizationPolicy), then by name, so that `kubectl apply -f` on a file
//! creates what is referenced before what references it. Every path segment is a name `check`
//! validated (cluster, namespace, service), never free text.
//!
//! # Which cluster gets what
//!
//! * **Istio configuration** (DestinationRule, VirtualService, ServiceEntry,
//!   Sidecar, AuthorizationPolicy) goes to `mesh/`, which every *config
//!   cluster* applies: each cluster that runs a control plane, because each
//!   istiod reads configuration only from its own cluster (multi-primary
//!   needs a copy in every primary; a remote cluster has no istiod to read
//!   it). When no cluster says `control-plane`, every cluster is one (the
//!   single-cluster case).
//! * **VM registration**: a VM's WorkloadEntry, the WorkloadGroup of its
//!   service version and its ServiceAccount go to the VM's *home cluster*,
//!   the one whose istiod it joins (`vm … cluster`, or the only control
//!   plane). Other primaries see the entry through istiod's cross-cluster
//!   WorkloadEntry discovery, which selects it with the Services of the
//!   entry's own cluster. A service registered with a ServiceEntry is the
//!   exception: a ServiceEntry selects entries from its own cluster's
//!   configuration only, so its WorkloadEntries go to `mesh/` beside it,
//!   for every config cluster (an auto-registered VM's entry, created by
//!   istiod, exists in the home cluster only).
//! * **Kubernetes Services** of VM-backed services go to every cluster where
//!   the service runs (its pods' clusters and its VMs' home clusters) and
//!   every cluster where one of its callers runs: kube-dns answers
//!   `<svc>.<ns>.svc.<domain>` only for Services of its own cluster, so a
//!   caller's cluster needs one for the name to resolve. A service
//!   registered with a ServiceEntry gets one too, without a selector: the
//!   ServiceEntry has no address, and pods do not ask Istio's DNS proxy. Services of
//!   cluster-only services are left to the application's own manifests;
//!   meshc owns the Service of every service with a VM placement (remove it
//!   from the application manifests, as Alibaba's `bookinfo-without-details`
//!   does).
//! * **Mesh expansion**: legacy internal load balancers go to each cluster
//!   that declares `ilb`; modern `istiod-gateway`/`istiod-vs` to each config
//!   cluster with an `east-west-gateway`; `cross-network-gateway` to each
//!   cluster with an east-west gateway when some VM or cluster sits on
//!   another network; and (modern flow) every cluster's control-plane
//!   namespace gets its `topology.istio.io/network` label, on one network
//!   too (see `emit::control_plane` for the rest of the control plane).
//! * **Namespaces** go to every cluster that gets an object in them,
//!   counting `mesh/`'s objects as every config cluster's.
//!
//! The flows differ by Istio release ([`Flow`]): the legacy flow (0.8–1.7)
//! writes what `install/kubernetes/mesh-expansion.yaml` and `istioctl
//! register` created; the modern flow (1.8+) writes WorkloadGroup,
//! WorkloadEntry and the east-west gateway objects of Istio's VM guide. See
//! the `legacy` and `modern` modules; `routing` and `policy` are shared.

mod legacy;
mod modern;
pub mod objects;
pub(crate) mod placement;
mod policy;
mod routing;
pub mod workload_group;

use std::collections::{BTreeMap, BTreeSet};

use crate::artifact::{Artifact, Mode};
use crate::check::{Checked, ClusterId, IdVec, Index, MeshGraph, ServiceId, Target, VmId, Workload};
use crate::model::{Flow, Service, Topology, Vm};
use objects::{ApiVersions, Object};

/// Every Kubernetes manifest of the topology, sorted by path.
pub fn emit(checked: &Checked, source_name: &str) -> Vec<Artifact> {
    let mut out = Vec::new();
    each(checked, source_name, |artifact| out.push(artifact));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Every Kubernetes manifest of the topology, each handed to `take` as soon
/// as its text is joined (by place, namespace and file name: each cluster's
/// files together, in path order within it).
pub(crate) fn each(checked: &Checked, source_name: &str, take: impl FnMut(Artifact)) {
    let cx = Cx::new(checked);
    files(&cx).into_artifacts(&cx, source_name, take);
}

/// Every object of every file, rendered.
fn files(cx: &Cx<'_>) -> Files {
    let mut files = Files::default();
    match cx.topo.mesh.flow() {
        Flow::Legacy => legacy::emit(cx, &mut files),
        Flow::Modern => modern::emit(cx, &mut files),
    }
    files.namespaces(cx);
    files
}

/// What every part of this emitter reads: the topology, its index, and the
/// facts derived from them once.
pub(crate) struct Cx<'a> {
    pub topo: &'a Topology,
    pub ix: &'a Index,
    pub api: ApiVersions,
    /// Clusters whose istiod reads Istio configuration, by index: the
    /// clusters that apply `mesh/`.
    pub config_clusters: Vec<ClusterId>,
    /// The cluster domain every config cluster shares (E708).
    pub config_domain: &'a str,
    /// Per service: the services that call it (by index, sorted).
    pub callers: &'a IdVec<ServiceId, Vec<ServiceId>>,
    /// The graph `check` built: least privilege (Sidecar egress,
    /// AuthorizationPolicy admits) is read from it.
    pub graph: &'a MeshGraph,
    /// Per VM: the cluster whose control plane it joins (proven by check).
    pub vm_home: &'a IdVec<VmId, ClusterId>,
}

impl<'a> Cx<'a> {
    fn new(checked: &'a Checked) -> Cx<'a> {
        let topo = checked.topology();
        let ix = checked.index();
        let config_clusters = placement::config_clusters(topo, ix);
        let config_domain = config_clusters
            .first()
            .map(|&c| &topo.clusters[c])
            .map_or("cluster.local", |c| c.cluster_domain());
        Cx {
            topo,
            ix,
            api: ApiVersions::new(topo.mesh.istio.value),
            config_clusters,
            config_domain,
            callers: &ix.callers,
            graph: checked.graph(),
            vm_home: &checked.proven().vm_home,
        }
    }

    pub fn control_plane_namespace(&self) -> &'a str {
        self.topo.mesh.control_plane_namespace()
    }

    /// The workloads of a service, in declaration order.
    pub fn workloads_of(&self, service: ServiceId) -> impl Iterator<Item = &'a Workload> + 'a {
        let ix = self.ix;
        ix.service_workloads[service]
            .iter()
            .map(move |&w| &ix.workloads[w])
    }

    /// The VM workloads of a service with their VM, in declaration order.
    pub fn vm_workloads_of(&self, service: ServiceId) -> impl Iterator<Item = (&'a Workload, &'a Vm)> + 'a {
        let topo = self.topo;
        self.workloads_of(service).filter_map(move |w| match w.target {
            Target::Vm(v) => Some((w, &topo.vms[v])),
            Target::Cluster(_) => None,
        })
    }

    /// The cluster a workload belongs to: its own, or its VM's home cluster.
    pub fn workload_cluster(&self, w: &Workload) -> ClusterId {
        match w.target {
            Target::Cluster(c) => c,
            Target::Vm(v) => self.vm_home[v],
        }
    }

    /// `<svc>.<ns>.svc.<cluster-domain>`, the name a service has in the
    /// config clusters, which share one domain (E708).
    pub fn fqdn(&self, service: &Service) -> String {
        format!(
            "{}.{}.svc.{}",
            service.name.value, service.namespace.value, self.config_domain
        )
    }

    /// The versions a service deploys, each once, in declaration order.
    pub fn versions(&self, service: ServiceId) -> Vec<&'a str> {
        let mut seen = BTreeSet::new();
        self.workloads_of(service)
            .map(|w| w.version.as_str())
            .filter(|v| seen.insert(*v))
            .collect()
    }
}

/// Which file of a namespace directory an object goes to.
#[derive(Clone, Copy)]
pub(crate) enum File<'a> {
    /// `namespace.yaml`: the Namespace and its ServiceAccounts.
    Namespace,
    /// `service-<name>.yaml`: everything about one service.
    Service(&'a str),
    /// `mesh-expansion.yaml`: control-plane access.
    MeshExpansion,
}

impl File<'_> {
    fn file_name(self) -> String {
        match self {
            File::Namespace => "namespace.yaml".to_owned(),
            File::Service(name) => format!("service-{name}.yaml"),
            File::MeshExpansion => "mesh-expansion.yaml".to_owned(),
        }
    }
}

/// Where a file goes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Place {
    /// `kubernetes/mesh/`: applied in every config cluster.
    Mesh,
    /// `kubernetes/clusters/<cluster>/`, by cluster index.
    Cluster(ClusterId),
}

/// A file: (place, namespace, file name).
type FileKey = (Place, String, String);

/// The output being built: by file, each object's YAML document keyed by
/// the object's sort key ([`Object::key`]; an object added twice is written
/// once).
///
/// An object is rendered as it is added and then freed: a large mesh has
/// tens of thousands of objects, each several times the size of its YAML,
/// and holding them all until the end was the largest part of a build's
/// peak memory. A file's documents are a vector, sorted (and an object
/// added twice dropped, the first kept) when the file is joined: most files
/// hold two to five objects, and a map per file cost a B-tree node of a
/// kilobyte each, about 24 MB at 10k services.
#[derive(Default)]
pub(crate) struct Files {
    files: BTreeMap<FileKey, Vec<(objects::ObjectKey, String)>>,
    /// Every object added, for the test that holds the YAML writer to
    /// serde-saphyr's output.
    #[cfg(test)]
    objects: Vec<Object>,
}

impl Files {
    pub fn add(&mut self, place: Place, namespace: &str, file: File<'_>, object: Object) {
        let documents = self
            .files
            .entry((place, namespace.to_owned(), file.file_name()))
            .or_default();
        documents.push((
            object.key(),
            crate::emit::exact(crate::emit::yaml::document(&object)),
        ));
        #[cfg(test)]
        self.objects.push(object);
    }

    /// A Namespace object for every application namespace that received
    /// something in a cluster, `mesh/` counting for every config cluster.
    /// The control-plane namespace and kube-system exist before meshc's
    /// output is applied and are never injected; the modern flow labels the
    /// former itself (see `modern::mesh_expansion`).
    fn namespaces(&mut self, cx: &Cx<'_>) {
        let mut used: BTreeSet<(ClusterId, &str)> = BTreeSet::new();
        for (place, ns, _) in self.files.keys() {
            match *place {
                Place::Cluster(c) => {
                    used.insert((c, ns));
                }
                Place::Mesh => used.extend(cx.config_clusters.iter().map(|&c| (c, ns.as_str()))),
            }
        }
        let wanted: Vec<(ClusterId, String)> = used
            .into_iter()
            .filter(|(_, ns)| *ns != cx.control_plane_namespace() && *ns != "kube-system")
            .map(|(c, ns)| (c, ns.to_owned()))
            .collect();
        for (cluster, ns) in wanted {
            let object = namespace_object(cx, &ns);
            self.add(Place::Cluster(cluster), &ns, File::Namespace, object);
        }
    }

    /// Joins each file's documents, in the map's order, and hands the file
    /// to `take` at once: only the documents are ever held whole.
    fn into_artifacts(self, cx: &Cx<'_>, source_name: &str, mut take: impl FnMut(Artifact)) {
        for ((place, ns, file), mut documents) in self.files {
            let dir = match place {
                // Dropped when no cluster would apply it (no clusters at all).
                Place::Mesh if cx.config_clusters.is_empty() => continue,
                Place::Mesh => "mesh".to_owned(),
                Place::Cluster(c) => format!("clusters/{}", cx.topo.clusters[c].name.value),
            };
            in_order(&mut documents);
            take(Artifact {
                path: format!("kubernetes/{dir}/{ns}/{file}"),
                contents: crate::emit::yaml::join(source_name, documents.iter().map(|(_, d)| d)),
                mode: Mode::Regular,
            });
        }
    }
}

/// A file's documents sorted by object key, an object added twice kept
/// once: the first added (the sort is stable).
fn in_order(documents: &mut Vec<(objects::ObjectKey, String)>) {
    documents.sort_by(|a, b| a.0.cmp(&b.0));
    documents.dedup_by(|later, earlier| later.0 == earlier.0);
}

/// An application namespace: the user's labels, then the injection label.
/// With a revision, `istio.io/rev` selects that revision's injector (and
/// `istio-injection` must then be absent, or the default injector would
/// take the namespace as well).
fn namespace_object(cx: &Cx<'_>, ns: &str) -> Object {
    // Every namespace written is indexed; only a declared one has labels.
    let declared = cx
        .ix
        .namespaces
        .get(ns)
        .and_then(|info| info.declared)
        .map(|i| &cx.topo.namespaces[i]);
    let mut labels: objects::Labels = declared
        .into_iter()
        .flat_map(|n| n.labels.iter())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let inject = declared
        .and_then(|n| n.injection.as_ref())
        .is_none_or(|i| i.value);
    if inject {
        match (cx.topo.mesh.flow(), &cx.topo.mesh.revision) {
            (Flow::Modern, Some(rev)) => {
                labels.insert("istio.io/rev".to_owned(), rev.value.clone());
            }
            _ => {
                labels.insert("istio-injection".to_owned(), "enabled".to_owned());
            }
        }
    }
    Object::Namespace(Box::new(k8s_openapi::api::core::v1::Namespace {
        metadata: objects::meta(ns, None, labels),
        ..Default::default()
    }))
}

/// A ServiceAccount for a VM workload: `istioctl x workload entry
/// configure` mints the VM's bootstrap token for it, and (legacy) Citadel
/// creates the `istio.<sa>` secret that `setupMeshEx.sh machineCerts` copies.
pub(crate) fn service_account_object(ns: &str, name: &str) -> Object {
    Object::ServiceAccount(Box::new(k8s_openapi::api::core::v1::ServiceAccount {
        metadata: objects::meta(name, Some(ns), objects::Labels::new()),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests;
