//! The VM bundles: for every VM, `vms/<vm>/…`, the files an operator
//! copies to the machine and installs as they are (`install.sh` puts each
//! in place).
//!
//! | file | legacy (< 1.8) | modern (1.8+) |
//! |---|---|---|
//! | `cluster.env` | `setupMeshEx.sh`'s three lines | `istioctl x workload entry configure`'s file |
//! | `sidecar.env` | capture settings + `ISTIO_SERVICE`, `ISTIO_NAMESPACE`, `ISTIO_SVC_IP` | capture settings + `ISTIO_CUSTOM_IP_TABLES=true` |
//! | `mesh.yaml` | — | ProxyConfig `defaultConfig` |
//! | `hosts` | with `dns hosts`: control-plane names → ILBs | istiod → east-west gateway |
//! | `dnsmasq.conf` | the 11-line `kubedns` (unless `dns hosts`) | with `dns dnsmasq`: `svc.<domain>` → kube-dns |
//! | `iptables.rules`, `iptables6.rules` | the 1.0 script's rules | istio-iptables's rules for the release |
//! | `iptables.sh` | apply / clean | apply / clean |
//! | `meshc-iptables.conf` | — | systemd drop-in running `iptables.sh` around `istio.service` |
//! | `install.sh` | install / rebootstrap / uninstall | install / rebootstrap / uninstall |
//! | `fetch-credentials.sh` | Citadel's certificates → this directory | token + root certificate → this directory |
//! | `check-ilbs.sh` | assigned ILB addresses = the pinned ones | — |
//! | `.gitignore` | the credential files | the credential files |
//!
//! `iptables6.rules` exists when the VM captures IPv6 (modern flow; its
//! address or its network is IPv6). With `dns capture` (the modern default)
//! there is no dnsmasq file: the agent's DNS proxy answers, fed by the DNS
//! redirect in the rules. Legacy VMs with `dns capture` get the `kubedns`
//! file, since 1.0 had no DNS proxy.
//!
//! Every file starts with the generated-file header (all these formats read
//! `#` as a comment), `cluster.env` included: its body after that line is
//! byte for byte what the formatters in [`super::cluster_env`] write, which
//! the conformance test checks against istioctl's goldens; bash, which
//! sources it, skips the comment.
//!
//! A file whose inputs the topology does not give (a kubedns file without
//! the cluster's internal load balancers, say) is left out rather than
//! written wrong; `check` is where such a topology is reported.

use std::collections::BTreeMap;

use super::cluster_env::{WorkloadAddress, WorkloadEnv, cluster_env, legacy_cluster_env};
use super::env_keys;
use super::install_sh::{DROP_IN, Extras, IPTABLES_SH_PATH, Placement, RULES_PATH, RULES6_PATH, install_sh};
use super::iptables_rules::{Payloads, capture_with, rules_file};
use super::iptables_sh::iptables_sh;
use super::mesh_yaml::mesh_yaml;
use super::plan::{VmPlan, plan};
use super::quote::EnvValue;
use super::sidecar_env::{legacy_service_cidrs, sidecar_env};
use super::text::{comment_text, header};
use super::{dnsmasq, operator, sidecar_env};
use crate::artifact::{Artifact, Mode};
use crate::check::{Checked, VmId, WorkloadId};
use crate::model::{DnsMode, Flow};

/// Where `cluster.env` is installed (both flows).
pub const CLUSTER_ENV_PATH: &str = "/var/lib/istio/envoy/cluster.env";
/// Where pilot-agent reads its mesh config (`--meshConfig`'s default).
pub const MESH_CONFIG_PATH: &str = "/etc/istio/config/mesh";

/// Every VM's bundle, sorted by path.
pub fn emit(checked: &Checked, source_name: &str) -> Vec<Artifact> {
    let bundles = Bundles::new(checked);
    let mut out: Vec<Artifact> = checked
        .topology()
        .vm_ids()
        .flat_map(|(v, _)| bundles.bundle(v, source_name))
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The VMs of a topology, whose bundles are independent of each other and
/// can be written in any order (see [`crate::emit::all`]).
pub struct Bundles<'a> {
    checked: &'a Checked,
    /// Computed once for all VMs: a VM with one workload is named after its
    /// WorkloadGroup.
    group_of: BTreeMap<WorkloadId, EnvValue>,
    /// The iptables payloads made so far, shared by VMs with the same
    /// capture settings.
    payloads: Payloads,
}

impl<'a> Bundles<'a> {
    pub fn new(checked: &'a Checked) -> Self {
        Bundles {
            checked,
            group_of: super::plan::group_names(checked),
            payloads: Payloads::default(),
        }
    }

    /// The number of VMs.
    pub fn len(&self) -> usize {
        self.checked.topology().vms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bundle of VM `v`, in no particular order.
    pub fn bundle(&self, v: VmId, source_name: &str) -> Vec<Artifact> {
        vm_bundle(
            &plan(self.checked, v, &self.group_of),
            source_name,
            &self.payloads,
        )
    }
}

/// One VM's files, and where `install.sh` puts them.
struct Bundle {
    dir: String,
    artifacts: Vec<Artifact>,
    placements: Vec<Placement>,
}

impl Bundle {
    fn add(&mut self, file: &'static str, contents: String, dest: Option<&'static str>) {
        let contents = crate::emit::exact(contents);
        let executable = file.ends_with(".sh");
        self.artifacts.push(Artifact {
            path: format!("{}/{file}", self.dir),
            contents,
            mode: if executable {
                Mode::Executable
            } else {
                Mode::Regular
            },
        });
        if let Some(dest) = dest {
            let mode = if executable { "0755" } else { "0644" };
            self.placements.push(Placement { file, dest, mode });
        }
    }
}

fn vm_bundle(plan: &VmPlan<'_>, source_name: &str, payloads: &Payloads) -> Vec<Artifact> {
    let mut bundle = Bundle {
        dir: format!("vms/{}", plan.vm.name.value),
        artifacts: Vec::new(),
        placements: Vec::new(),
    };
    let modern = plan.flow == Flow::Modern;
    let cluster_env = match plan.flow {
        Flow::Modern => cluster_env(&workload_env(plan)),
        Flow::Legacy => legacy_env(plan),
    };
    bundle.add(
        "cluster.env",
        header(source_name) + &cluster_env,
        Some(CLUSTER_ENV_PATH),
    );
    bundle.add(
        "sidecar.env",
        sidecar_env(plan, source_name),
        Some(sidecar_env::PATH),
    );
    if modern {
        let yaml = header(source_name) + &mesh_yaml(&workload_env(plan));
        bundle.add("mesh.yaml", yaml, Some(MESH_CONFIG_PATH));
    }

    let istio_namespace = plan.istio_namespace;
    let home = plan.home;
    let mut hosts = None;
    let mut dnsmasq = None;
    match plan.flow {
        Flow::Modern => {
            let gateway = home.east_west_gateway.as_ref().map(|g| g.value);
            hosts = Some(dnsmasq::modern_hosts(
                gateway,
                istio_namespace,
                plan.revision,
                source_name,
            ));
            if plan.dns == DnsMode::Dnsmasq {
                dnsmasq = dnsmasq::forward(home, plan.service_domain, &plan.vm.name.value, source_name);
            }
        }
        Flow::Legacy if plan.dns == DnsMode::Hosts => {
            hosts = dnsmasq::legacy_hosts(home, istio_namespace, source_name);
        }
        Flow::Legacy => {
            dnsmasq = dnsmasq::kubedns(
                home,
                plan.service_domain,
                istio_namespace,
                &plan.vm.name.value,
                source_name,
            );
        }
    }
    let extras = Extras {
        hosts: hosts
            .as_deref()
            .is_some_and(|h| h.lines().any(|l| !l.starts_with('#'))),
        dnsmasq: dnsmasq.is_some(),
    };
    if let Some(hosts) = hosts {
        // Not copied: install.sh writes its lines into /etc/hosts.
        bundle.add("hosts", hosts, None);
    }
    if let Some(conf) = dnsmasq {
        bundle.add("dnsmasq.conf", conf, Some(dnsmasq::PATH));
    }

    let capture = capture_with(plan, payloads);
    let v4 = rules_file(plan, &capture, &capture.v4, "IPv4", source_name);
    bundle.add("iptables.rules", v4, Some(RULES_PATH));
    if let Some(v6) = &capture.v6 {
        let v6 = rules_file(plan, &capture, v6, "IPv6", source_name);
        bundle.add("iptables6.rules", v6, Some(RULES6_PATH));
    }
    bundle.add(
        "iptables.sh",
        iptables_sh(plan, &capture, source_name),
        Some(IPTABLES_SH_PATH),
    );
    if modern {
        bundle.add("meshc-iptables.conf", drop_in(plan, source_name), Some(DROP_IN));
    }
    let script = install_sh(plan, &bundle.placements, extras, source_name);
    bundle.add("install.sh", script, None);
    // The operator's side: not installed on the VM.
    bundle.add(
        "fetch-credentials.sh",
        operator::fetch_credentials_sh(plan, source_name),
        None,
    );
    bundle.add(".gitignore", operator::gitignore(plan, source_name), None);
    if !modern && let Some(script) = operator::check_ilbs_sh(plan, source_name) {
        bundle.add("check-ilbs.sh", script, None);
    }
    bundle.artifacts
}

/// The `workload entry configure` inputs for the VM's sidecar, from what
/// `check` proved.
pub fn workload_env(plan: &VmPlan<'_>) -> WorkloadEnv {
    let id = &plan.identity;
    let proven = plan.proven;
    WorkloadEnv {
        name: id.name.clone(),
        namespace: id.namespace.clone(),
        service_account: id.service_account.clone(),
        labels: id.labels.clone(),
        ports: id.ports.clone(),
        network: EnvValue::from(&proven.vm_words[plan.vm_id].network),
        cluster_id: EnvValue::from(&proven.cluster_id[plan.home_id]),
        // Not a fallback: istioctl writes an empty mesh id when the mesh sets none.
        mesh_id: proven.mesh_id.as_ref().map(EnvValue::from).unwrap_or_default(),
        trust_domain: EnvValue::from(&proven.trust_domain),
        revision: plan.revision.map(EnvValue::from),
        istio_namespace: EnvValue::from(plan.istio_namespace),
        address: Some(WorkloadAddress::Internal(plan.vm.address.value)),
        capture_dns: plan.dns == DnsMode::Capture,
        status_port: None,
        autoregister: plan.vm.autoregister.as_ref().is_some_and(|a| a.value),
        // Names the WorkloadEntry meshc writes for this VM, so that istiod
        // accepts the sidecar's health reports for it.
        proxy_metadata: plan
            .workload_entry
            .iter()
            .map(|entry| (env_keys::ISTIO_META_WORKLOAD_ENTRY, entry.clone()))
            .collect(),
        readiness_probe: id.probe.clone(),
        discovery_address: None,
    }
}

/// The legacy `cluster.env` body.
fn legacy_env(plan: &VmPlan<'_>) -> String {
    let proven = plan.proven;
    // Not a fallback: `MUTUAL_TLS` is `control-plane-auth`'s default.
    let auth = proven
        .control_plane_auth
        .as_ref()
        .map_or(EnvValue::literal("MUTUAL_TLS"), EnvValue::from);
    legacy_cluster_env(
        &legacy_service_cidrs(plan),
        &EnvValue::from(plan.istio_namespace),
        &auth,
    )
}

/// The systemd drop-in of the modern flow: `sidecar.env` keeps the agent
/// from installing rules (`ISTIO_CUSTOM_IP_TABLES=true`), so meshc's are
/// loaded before it starts and removed after it stops, as `istio-start.sh`
/// does with its own (`ExecStopPost=… clean` upstream). `ExecStartPre`
/// runs before the unit's `ExecStart` at every start, boot included; at
/// boot the unit also waits for the network to be up, since the rules read
/// the resolvers it configures.
fn drop_in(plan: &VmPlan<'_>, source_name: &str) -> String {
    let mut out = header(source_name);
    out.push_str(&format!(
        "#\n\
         # Drop-in for istio.service on VM {vm}, installed as\n\
         # {DROP_IN}: loads meshc's capture rules\n\
         # before the agent starts and removes them after it stops.\n\
         [Unit]\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         ExecStartPre={IPTABLES_SH_PATH} apply\n\
         ExecStopPost={IPTABLES_SH_PATH} clean\n",
        vm = comment_text(&plan.vm.name.value),
    ));
    out
}
