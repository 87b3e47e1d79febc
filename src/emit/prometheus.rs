//! A Prometheus scrape job for the VM sidecars (modern flow).
//!
//! Prometheus finds pods through Kubernetes service discovery and their
//! `prometheus.io/*` annotations; a VM is in no such list, so its sidecar's
//! metrics (the agent's merged endpoint, `:15020/stats/prometheus`, which
//! istio-start.sh exposes and the VM's capture rules leave alone) are never
//! scraped. This file is one `scrape_configs` job with every VM as a static
//! target, labelled with what the pods' relabelling would give them (mesh,
//! cluster id, network, namespace, app, version) plus the VM's name. Add the
//! job to `prometheus.yml`, or pass its list as the Prometheus operator's
//! `additionalScrapeConfigs`.
//!
//! Output: `prometheus/vm-sidecars.yaml`, only when the topology has VMs.
//! The legacy flow (before 1.8) writes nothing: its sidecars have no agent
//! endpoint on 15020, and their telemetry went through Mixer.
//! Every value is a name or address `check` validated; YAML quoting is
//! left to the YAML writer.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::artifact::{Artifact, Mode};
use crate::check::Checked;
use crate::model::Flow;

/// Where the file goes.
pub const PATH: &str = "prometheus/vm-sidecars.yaml";

/// The agent's merged Prometheus endpoint (`ISTIO_META_STATS_PORT`'s
/// default, what the pods' `prometheus.io/port` annotation names).
pub const STATS_PORT: u16 = 15020;

#[derive(Serialize)]
struct Config {
    scrape_configs: Vec<Job>,
}

#[derive(Serialize)]
struct Job {
    job_name: String,
    metrics_path: &'static str,
    static_configs: Vec<StaticConfig>,
}

#[derive(Serialize)]
struct StaticConfig {
    targets: Vec<String>,
    labels: BTreeMap<&'static str, String>,
}

pub fn emit(checked: &Checked, source_name: &str) -> Vec<Artifact> {
    let topo = checked.topology();
    let ix = checked.index();
    if topo.mesh.flow() == Flow::Legacy || topo.vms.is_empty() {
        return Vec::new();
    }
    let mut static_configs = Vec::new();
    for (v, vm) in topo.vm_ids() {
        let target = match vm.address.value {
            std::net::IpAddr::V4(a) => format!("{a}:{STATS_PORT}"),
            std::net::IpAddr::V6(a) => format!("[{a}]:{STATS_PORT}"),
        };
        let mut labels = BTreeMap::new();
        labels.insert("vm", vm.name.value.clone());
        labels.insert("network", vm.network.value.clone());
        if let Some(id) = &topo.mesh.mesh_id {
            labels.insert("mesh_id", id.value.clone());
        }
        let cluster = &topo.clusters[checked.proven().vm_home[v]];
        labels.insert("cluster", cluster.cluster_id().to_owned());
        let workloads: Vec<_> = ix.vm_workloads[v].iter().map(|&w| &ix.workloads[w]).collect();
        // One namespace per VM (E304); app and version only when they are
        // one: a target has one value per label.
        if let Some(service) = workloads.first().map(|w| &topo.services[w.service]) {
            labels.insert("namespace", service.namespace.value.clone());
        }
        if let [only] = workloads.as_slice() {
            let service = &topo.services[only.service];
            labels.insert("app", service.name.value.clone());
            labels.insert("version", only.version.clone());
        }
        static_configs.push(StaticConfig {
            targets: vec![target],
            labels,
        });
    }
    let config = Config {
        scrape_configs: vec![Job {
            job_name: format!("istio-vm-sidecars-{}", topo.mesh.name.value),
            metrics_path: "/stats/prometheus",
            static_configs,
        }],
    };
    let mut contents = crate::emit::vm::text::header(source_name);
    contents.push_str(
        "# Prometheus scrape job for the mesh's VM sidecars (Kubernetes discovery never\n\
         # finds VMs): add it under `scrape_configs` in prometheus.yml.\n",
    );
    contents.push_str(&crate::emit::yaml::document(&config));
    vec![Artifact {
        path: PATH.to_owned(),
        contents: crate::emit::exact(contents),
        mode: Mode::Regular,
    }]
}
