//! What a reviewer must see, derived from the old and new units: the
//! effects of a change on traffic, policy, the VMs and the control plane,
//! rather than the files it touches.
//!
//! Each kind reads the objects or files that decide it:
//!
//! - traffic: each VirtualService's destination weights per subset;
//! - policy: each AuthorizationPolicy's `from` principals (no policy at all
//!   admits any caller, written `*`);
//! - egress: each Sidecar's egress hosts (no Sidecar reaches anything, `*`);
//! - capture: a VM's capture settings in `sidecar.env` / `cluster.env`, and
//!   the rules of its `iptables.rules`;
//! - DNS: the entries of a VM's `hosts` and `dnsmasq.conf`;
//! - VMs: added, removed, or with an installed file changed, and then the
//!   command that applies it, as the bundle's `install.sh` names them;
//! - control plane: each key of `control-plane/<cluster>/` values files;
//! - Kubernetes objects removed, which `kubectl apply` leaves in place.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::{Body, Scope, Units, describe, env_values, flatten, leaf_value, shown};

/// One consequence of the change. In JSON: `kind` (the variant name in
/// kebab case), `text` (the sentence the human and Markdown reports print),
/// and the variant's fields.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Consequence {
    /// Values of a file under `control-plane/<cluster>/` changed (`changes`:
    /// each dotted `key` with its `old` and `new` value, absent when the key
    /// is), and the `command` that applies it.
    ControlPlane {
        cluster: String,
        file: String,
        changes: Vec<ValueChange>,
        command: String,
        text: String,
    },
    /// A cluster joins or leaves the output (`change`: added or removed).
    Cluster {
        cluster: String,
        change: super::Change,
        text: String,
    },
    /// A version's share of a service's traffic changed (`service` is
    /// `namespace/name`; a weight is absent where no route names it).
    TrafficShifted {
        service: String,
        version: String,
        old_percent: Option<u64>,
        new_percent: Option<u64>,
        text: String,
    },
    /// The ports a Service (or ServiceEntry) exposes changed, in `scope`
    /// (a cluster's name, or `mesh`); ports as `name:number`.
    PortsChanged {
        scope: String,
        service: String,
        old: Vec<String>,
        new: Vec<String>,
        text: String,
    },
    /// `principal` may now call `service` (`*`: any caller, no policy).
    PolicyWidened {
        service: String,
        principal: String,
        text: String,
    },
    /// `principal` may no longer call `service` (`*`: any caller).
    PolicyNarrowed {
        service: String,
        principal: String,
        text: String,
    },
    /// `service`'s sidecars may now reach `host` (`*`: anything).
    EgressWidened {
        service: String,
        host: String,
        text: String,
    },
    /// `service`'s sidecars may no longer reach `host`.
    EgressNarrowed {
        service: String,
        host: String,
        text: String,
    },
    /// A capture setting of a VM changed (`file`, `key`, old and new value).
    CaptureChanged {
        vm: String,
        file: String,
        key: String,
        old: Option<String>,
        new: Option<String>,
        text: String,
    },
    /// The rules a VM installs changed: rule lines added and removed.
    RulesChanged {
        vm: String,
        added: Vec<String>,
        removed: Vec<String>,
        text: String,
    },
    /// A VM's name resolution changed: entries of `file` added and removed.
    DnsChanged {
        vm: String,
        file: String,
        added: Vec<String>,
        removed: Vec<String>,
        text: String,
    },
    /// A VM joins the mesh.
    VmAdded { vm: String, text: String },
    /// A VM leaves the mesh.
    VmRemoved { vm: String, text: String },
    /// An installed file of a VM's bundle changed: `files`, why (`reason`:
    /// `bundle` or `identity`) and the `command` that applies it.
    VmReinstall {
        vm: String,
        files: Vec<String>,
        reason: String,
        command: String,
        text: String,
    },
    /// Kubernetes objects that are no longer generated: `kubectl apply`
    /// leaves them in the cluster (`scope`: a cluster's name, or `mesh` for
    /// every control-plane cluster); `objects` as `Kind namespace/name`.
    ObjectsToDelete {
        scope: String,
        objects: Vec<String>,
        text: String,
    },
}

impl Consequence {
    /// The sentence for people.
    pub fn text(&self) -> &str {
        match self {
            Consequence::ControlPlane { text, .. }
            | Consequence::Cluster { text, .. }
            | Consequence::TrafficShifted { text, .. }
            | Consequence::PortsChanged { text, .. }
            | Consequence::PolicyWidened { text, .. }
            | Consequence::PolicyNarrowed { text, .. }
            | Consequence::EgressWidened { text, .. }
            | Consequence::EgressNarrowed { text, .. }
            | Consequence::CaptureChanged { text, .. }
            | Consequence::RulesChanged { text, .. }
            | Consequence::DnsChanged { text, .. }
            | Consequence::VmAdded { text, .. }
            | Consequence::VmRemoved { text, .. }
            | Consequence::VmReinstall { text, .. }
            | Consequence::ObjectsToDelete { text, .. } => text,
        }
    }

    /// A short tag for the kind: `control-plane`, `traffic`, `policy`, …
    pub fn tag(&self) -> &'static str {
        match self {
            Consequence::ControlPlane { .. } | Consequence::Cluster { .. } => "control-plane",
            Consequence::TrafficShifted { .. } => "traffic",
            Consequence::PortsChanged { .. } => "ports",
            Consequence::PolicyWidened { .. } | Consequence::PolicyNarrowed { .. } => "policy",
            Consequence::EgressWidened { .. } | Consequence::EgressNarrowed { .. } => "egress",
            Consequence::CaptureChanged { .. } | Consequence::RulesChanged { .. } => "capture",
            Consequence::DnsChanged { .. } => "dns",
            Consequence::VmAdded { .. } | Consequence::VmRemoved { .. } | Consequence::VmReinstall { .. } => {
                "vm"
            }
            Consequence::ObjectsToDelete { .. } => "delete",
        }
    }
}

/// One value of a values file: its dotted `key`, `old` and `new` value
/// (absent where the key is).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ValueChange {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// Capture settings of a VM's `sidecar.env` and `cluster.env`: what
/// istio-iptables (or meshc's rules, built from the same keys) captures.
const CAPTURE_KEYS: [&str; 10] = [
    "ISTIO_CUSTOM_IP_TABLES",
    "ISTIO_INBOUND_INTERCEPTION_MODE",
    "ISTIO_INBOUND_PORTS",
    "ISTIO_LOCAL_EXCLUDE_PORTS",
    "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE",
    "ISTIO_META_DNS_CAPTURE",
    "ISTIO_OUTBOUND_PORTS",
    "ISTIO_SERVICE_CIDR",
    "ISTIO_SERVICE_EXCLUDE_CIDR",
    "ISTIO_EXCLUDE_INTERFACES",
];

/// Settings that make up the identity the VM's credentials were issued to:
/// when one changes, the old token and certificate name someone else.
const IDENTITY_KEYS: [&str; 6] = [
    "SERVICE_ACCOUNT",
    "POD_NAMESPACE",
    "ISTIO_NAMESPACE",
    "TRUST_DOMAIN",
    "ISTIO_META_CLUSTER_ID",
    "ISTIO_SERVICE",
];

/// Files of a VM bundle used on the operator's machine, not installed on
/// the VM: a change to them alone needs no re-install.
const OPERATOR_FILES: [&str; 3] = [".gitignore", "fetch-credentials.sh", "check-ilbs.sh"];

/// Every consequence, in report order: control plane, traffic, policy,
/// egress, VMs (capture, DNS, re-installs), then objects to delete.
pub(crate) fn derive(old: &Units, new: &Units) -> Vec<Consequence> {
    let mut out = Vec::new();
    clusters(old, new, &mut out);
    control_plane(old, new, &mut out);
    traffic(old, new, &mut out);
    ports(old, new, &mut out);
    access(old, new, "AuthorizationPolicy", principals, &mut out);
    access(old, new, "Sidecar", egress_hosts, &mut out);
    vms(old, new, &mut out);
    deletions(old, new, &mut out);
    out
}

fn clusters(old: &Units, new: &Units, out: &mut Vec<Consequence>) {
    let names = |units: &Units| -> BTreeSet<String> {
        units
            .keys()
            .filter_map(|s| match s {
                Scope::Cluster(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    };
    let (before, after) = (names(old), names(new));
    for cluster in after.difference(&before) {
        out.push(Consequence::Cluster {
            cluster: cluster.clone(),
            change: super::Change::Added,
            text: format!(
                "cluster {cluster} is new: install its control plane and apply its objects as RUNBOOK.md says"
            ),
        });
    }
    for cluster in before.difference(&after) {
        out.push(Consequence::Cluster {
            cluster: cluster.clone(),
            change: super::Change::Removed,
            text: format!("cluster {cluster} is no longer in the mesh: meshc generates nothing for it"),
        });
    }
}

/// The text of every file unit of `scope` whose path starts with `prefix`,
/// by file name after it.
fn texts<'a>(units: &'a Units, scope: &Scope, prefix: &str) -> BTreeMap<&'a str, &'a str> {
    units
        .get(scope)
        .into_iter()
        .flat_map(|m| m.iter())
        .filter_map(|((kind, _, path), unit)| match (&unit.body, kind.as_str()) {
            (Body::Text(t), "file") => path.strip_prefix(prefix).map(|rest| (rest, t.as_str())),
            _ => None,
        })
        .collect()
}

/// How the runbook installs a control-plane file, to apply a change to it.
fn upgrade_command(cluster: &str, file: &str) -> String {
    let path = format!("control-plane/{cluster}/{file}");
    match file {
        "istiod-values.yaml" => {
            format!("helm upgrade istiod istio/istiod --kube-context {cluster} -n istio-system -f {path}")
        }
        "eastwest-gateway-values.yaml" => format!(
            "helm upgrade istio-eastwestgateway istio/gateway --kube-context {cluster} -n istio-system -f {path}"
        ),
        f if f.ends_with(".iop.yaml") => format!("istioctl install -y --context {cluster} -f {path}"),
        _ => format!("apply {path} again"),
    }
}

/// At most this many value changes are quoted in a control-plane
/// consequence's text (its `changes` carry them all).
const MAX_VALUES: usize = 4;

fn control_plane(old: &Units, new: &Units, out: &mut Vec<Consequence>) {
    let clusters: BTreeSet<&Scope> = old
        .keys()
        .chain(new.keys())
        .filter(|s| matches!(s, Scope::Cluster(_)))
        .collect();
    for scope in clusters {
        let cluster = scope.name();
        let prefix = format!("control-plane/{cluster}/");
        let (before, after) = (texts(old, scope, &prefix), texts(new, scope, &prefix));
        // A cluster that is new or gone altogether is reported once, above.
        if before.is_empty() || after.is_empty() {
            continue;
        }
        let files: BTreeSet<&&str> = before.keys().chain(after.keys()).collect();
        for file in files {
            let leaves = |t: Option<&&str>| {
                t.and_then(|t| serde_saphyr::from_str::<Value>(t).ok())
                    .map(|v| flatten(&v))
                    .unwrap_or_default()
            };
            let (o, n) = (leaves(before.get(file)), leaves(after.get(file)));
            let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
            let changes: Vec<ValueChange> = keys
                .into_iter()
                .filter(|k| o.get(*k) != n.get(*k))
                .map(|k| ValueChange {
                    key: k.clone(),
                    old: leaf_value(k, o.get(k)),
                    new: leaf_value(k, n.get(k)),
                })
                .collect();
            if changes.is_empty() {
                continue;
            }
            let mut quoted: Vec<String> = changes
                .iter()
                .take(MAX_VALUES)
                .map(|c| describe(&c.key, o.get(&c.key), n.get(&c.key)))
                .collect();
            if changes.len() > MAX_VALUES {
                quoted.push(format!("… {} more", changes.len() - MAX_VALUES));
            }
            let command = upgrade_command(cluster, file);
            out.push(Consequence::ControlPlane {
                text: format!(
                    "cluster {cluster}: {file}: {}; apply with `{command}`",
                    quoted.join("; ")
                ),
                cluster: cluster.to_owned(),
                file: (*file).to_owned(),
                changes,
                command,
            });
        }
    }
}

/// Every object of `kind`, in every scope, by `namespace/name`.
fn objects_of<'a>(units: &'a Units, kind: &str) -> BTreeMap<String, &'a Value> {
    units
        .values()
        .flat_map(|m| m.iter())
        .filter_map(|((k, ns, name), unit)| match &unit.body {
            Body::Object(v) if k == kind => Some((format!("{ns}/{name}"), v)),
            _ => None,
        })
        .collect()
}

/// Every `namespace/name` that some object or Service has on this side: a
/// service that exists.
fn services(units: &Units) -> BTreeSet<String> {
    units
        .values()
        .flat_map(|m| m.keys())
        .filter(|(kind, ns, _)| kind != "file" && !ns.is_empty())
        .map(|(_, ns, name)| format!("{ns}/{name}"))
        .collect()
}

/// Weight per subset of a VirtualService's first route list (HTTP, else
/// TCP); a lone destination without a weight takes everything.
fn weights(vs: &Value) -> BTreeMap<String, u64> {
    let spec = vs.get("spec");
    let first = ["http", "tcp"].iter().find_map(|list| {
        spec.and_then(|s| s.get(list))
            .and_then(Value::as_array)
            .and_then(|routes| routes.first())
            .and_then(|r| r.get("route"))
            .and_then(Value::as_array)
    });
    let Some(route) = first else {
        return BTreeMap::new();
    };
    let only = route.len() == 1;
    route
        .iter()
        .filter_map(|d| {
            let subset = d.get("destination")?.get("subset")?.as_str()?.to_owned();
            let weight = d
                .get("weight")
                .and_then(Value::as_u64)
                .unwrap_or(if only { 100 } else { 0 });
            Some((subset, weight))
        })
        .collect()
}

fn percent(w: Option<u64>) -> String {
    w.map_or_else(|| "no route".to_owned(), |w| format!("{w}%"))
}

fn traffic(old: &Units, new: &Units, out: &mut Vec<Consequence>) {
    let (before, after) = (
        objects_of(old, "VirtualService"),
        objects_of(new, "VirtualService"),
    );
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for service in names {
        let (o, n) = (
            before.get(service).map(|v| weights(v)),
            after.get(service).map(|v| weights(v)),
        );
        let versions: BTreeSet<&String> = o.iter().chain(n.iter()).flat_map(|w| w.keys()).collect();
        // A version a VirtualService does not name gets none of its
        // traffic; without a VirtualService there is no route at all.
        let weight = |w: &Option<BTreeMap<String, u64>>, v: &String| {
            w.as_ref().map(|w| w.get(v).copied().unwrap_or(0))
        };
        for version in versions {
            let (ow, nw) = (weight(&o, version), weight(&n, version));
            if ow == nw {
                continue;
            }
            out.push(Consequence::TrafficShifted {
                service: service.clone(),
                version: version.clone(),
                old_percent: ow,
                new_percent: nw,
                text: format!("{service} {version}: {} → {}", percent(ow), percent(nw)),
            });
        }
    }
}

/// `name:number` of each port of a Service or ServiceEntry.
fn port_list(object: &Value) -> Vec<String> {
    let ports = object.pointer("/spec/ports").and_then(Value::as_array);
    ports
        .into_iter()
        .flatten()
        .map(|p| {
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            let number = p
                .get("port")
                .or_else(|| p.get("number"))
                .map(Value::to_string)
                .unwrap_or_default();
            format!("{name}:{number}")
        })
        .collect()
}

/// Services whose ports changed, where they existed before and still do
/// (a new or removed Service is in the object list).
fn ports(old: &Units, new: &Units, out: &mut Vec<Consequence>) {
    for (scope, before) in old {
        let Some(after) = new.get(scope) else {
            continue;
        };
        for (key, unit) in before {
            let (kind, ns, name) = key;
            if kind != "Service" && kind != "ServiceEntry" {
                continue;
            }
            let (Body::Object(o), Some(Body::Object(n))) = (&unit.body, after.get(key).map(|u| &u.body))
            else {
                continue;
            };
            let (op, np) = (port_list(o), port_list(n));
            if op == np {
                continue;
            }
            let where_ = match scope {
                Scope::Cluster(c) => format!("cluster {c}"),
                _ => scope.title(),
            };
            out.push(Consequence::PortsChanged {
                text: format!(
                    "{kind} {ns}/{name} in {where_}: ports {} → {}",
                    op.join(", "),
                    np.join(", ")
                ),
                scope: if scope.name().is_empty() {
                    scope.kind().to_owned()
                } else {
                    scope.name().to_owned()
                },
                service: format!("{ns}/{name}"),
                old: op,
                new: np,
            });
        }
    }
}

/// The principals an AuthorizationPolicy admits.
fn principals(policy: &Value) -> BTreeSet<String> {
    let rules = policy.pointer("/spec/rules").and_then(Value::as_array);
    rules
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("from").and_then(Value::as_array))
        .flatten()
        .filter_map(|f| f.pointer("/source/principals").and_then(Value::as_array))
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect()
}

/// The hosts a Sidecar's egress listeners name.
fn egress_hosts(sidecar: &Value) -> BTreeSet<String> {
    let listeners = sidecar.pointer("/spec/egress").and_then(Value::as_array);
    listeners
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("hosts").and_then(Value::as_array))
        .flatten()
        .filter_map(|h| h.as_str().map(str::to_owned))
        .collect()
}

/// Policy (`AuthorizationPolicy`) or egress (`Sidecar`) widened and
/// narrowed. A service that has no such object admits (reaches) anything,
/// `*`; a service that does not exist admits nothing.
fn access(
    old: &Units,
    new: &Units,
    kind: &str,
    read: fn(&Value) -> BTreeSet<String>,
    out: &mut Vec<Consequence>,
) {
    let (before, after) = (objects_of(old, kind), objects_of(new, kind));
    let (existed, exists) = (services(old), services(new));
    let any = || BTreeSet::from(["*".to_owned()]);
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for service in names {
        let side = |objects: &BTreeMap<String, &Value>, present: &BTreeSet<String>| match objects.get(service)
        {
            Some(v) => read(v),
            None if present.contains(service) => any(),
            None => BTreeSet::new(),
        };
        let (o, n) = (side(&before, &existed), side(&after, &exists));
        let policy = kind == "AuthorizationPolicy";
        for gained in n.difference(&o) {
            let text = match (policy, gained.as_str()) {
                (true, "*") => format!("{service}: no policy any more, any caller is admitted"),
                (true, p) => format!("{p} gains {service}"),
                (false, "*") => format!("{service}: no Sidecar any more, its egress is unrestricted"),
                (false, h) => format!("{service} may now reach {h}"),
            };
            out.push(if policy {
                Consequence::PolicyWidened {
                    service: service.clone(),
                    principal: gained.clone(),
                    text,
                }
            } else {
                Consequence::EgressWidened {
                    service: service.clone(),
                    host: gained.clone(),
                    text,
                }
            });
        }
        for lost in o.difference(&n) {
            let text = match (policy, lost.as_str()) {
                (true, "*") => format!("{service}: now admits only the callers its policy names"),
                (true, p) => format!("{p} loses {service}"),
                (false, "*") => format!("{service}: egress now limited to the hosts its Sidecar names"),
                (false, h) => format!("{service} may no longer reach {h}"),
            };
            out.push(if policy {
                Consequence::PolicyNarrowed {
                    service: service.clone(),
                    principal: lost.clone(),
                    text,
                }
            } else {
                Consequence::EgressNarrowed {
                    service: service.clone(),
                    host: lost.clone(),
                    text,
                }
            });
        }
    }
}

/// Lines that are neither empty nor comments.
fn entries(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect()
}

/// Lines of `a` not in `b`, in `a`'s order.
fn minus(a: &[&str], b: &[&str]) -> Vec<String> {
    let b: BTreeSet<&str> = b.iter().copied().collect();
    a.iter()
        .filter(|l| !b.contains(*l))
        .map(|l| (*l).to_owned())
        .collect()
}

/// At most this many lines of a file are quoted in a consequence (the
/// JSON fields carry them all).
const MAX_QUOTED: usize = 8;

/// `+ line; - line`, the first [`MAX_QUOTED`], then how many more.
fn line_changes(added: &[String], removed: &[String]) -> String {
    let all: Vec<String> = added
        .iter()
        .map(|l| format!("+ {l}"))
        .chain(removed.iter().map(|l| format!("- {l}")))
        .collect();
    let mut text = all
        .iter()
        .take(MAX_QUOTED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if all.len() > MAX_QUOTED {
        text.push_str(&format!("; … {} more", all.len() - MAX_QUOTED));
    }
    text
}

fn vms(old: &Units, new: &Units, out: &mut Vec<Consequence>) {
    let vms: BTreeSet<&Scope> = old
        .keys()
        .chain(new.keys())
        .filter(|s| matches!(s, Scope::Vm(_)))
        .collect();
    for scope in vms {
        let vm = scope.name().to_owned();
        let prefix = format!("vms/{vm}/");
        let (before, after) = (texts(old, scope, &prefix), texts(new, scope, &prefix));
        if before.is_empty() {
            out.push(Consequence::VmAdded {
                text: format!(
                    "vm {vm} joins the mesh: set it up as RUNBOOK.md says (`./runbook.sh vm {vm}`)"
                ),
                vm,
            });
            continue;
        }
        if after.is_empty() {
            out.push(Consequence::VmRemoved {
                text: format!(
                    "vm {vm} leaves the mesh: run `sudo ./install.sh uninstall` on it from its current bundle before the change is applied"
                ),
                vm,
            });
            continue;
        }
        let (ob, nb) = (
            |f: &str| before.get(f).copied().unwrap_or(""),
            |f: &str| after.get(f).copied().unwrap_or(""),
        );
        // Capture settings.
        let mut identity = Vec::new();
        for file in ["sidecar.env", "cluster.env"] {
            let (o, n) = (env_values(ob(file)), env_values(nb(file)));
            for key in CAPTURE_KEYS {
                let (ov, nv) = (o.get(key), n.get(key));
                if ov != nv {
                    out.push(Consequence::CaptureChanged {
                        vm: vm.clone(),
                        file: file.to_owned(),
                        key: key.to_owned(),
                        old: ov.cloned(),
                        new: nv.cloned(),
                        text: format!("vm {vm}: {file} {key}: {} → {}", shown(ov), shown(nv)),
                    });
                }
            }
            for key in IDENTITY_KEYS {
                if o.get(key) != n.get(key) && !identity.contains(&key) {
                    identity.push(key);
                }
            }
        }
        let (o, n) = (entries(ob("iptables.rules")), entries(nb("iptables.rules")));
        let (added, removed) = (minus(&n, &o), minus(&o, &n));
        if !added.is_empty() || !removed.is_empty() {
            out.push(Consequence::RulesChanged {
                text: format!("vm {vm}: iptables.rules: {}", line_changes(&added, &removed)),
                vm: vm.clone(),
                added,
                removed,
            });
        }
        for file in ["hosts", "dnsmasq.conf"] {
            let (o, n) = (entries(ob(file)), entries(nb(file)));
            let (added, removed) = (minus(&n, &o), minus(&o, &n));
            if added.is_empty() && removed.is_empty() {
                continue;
            }
            out.push(Consequence::DnsChanged {
                text: format!("vm {vm}: {file}: {}", line_changes(&added, &removed)),
                vm: vm.clone(),
                file: file.to_owned(),
                added,
                removed,
            });
        }
        // Re-install.
        let names: BTreeSet<&&str> = before.keys().chain(after.keys()).collect();
        let files: Vec<String> = names
            .into_iter()
            .filter(|f| !OPERATOR_FILES.contains(f) && before.get(**f) != after.get(**f))
            .map(|f| (*f).to_owned())
            .collect();
        let credentials = ob("fetch-credentials.sh") != nb("fetch-credentials.sh");
        if files.is_empty() && !credentials {
            continue;
        }
        let cluster = env_values(nb("install.sh")).remove("cluster").unwrap_or_default();
        let (reason, command, why) = if identity.is_empty() && !credentials {
            (
                "bundle",
                format!("copy vms/{vm} to the VM and run `sudo ./install.sh` there"),
                String::new(),
            )
        } else {
            let why = if identity.is_empty() {
                "its credentials are fetched differently".to_owned()
            } else {
                format!("its identity changed ({})", identity.join(", "))
            };
            (
                "identity",
                format!(
                    "run `vms/{vm}/fetch-credentials.sh --context {cluster}`, copy vms/{vm} to the VM, run `sudo ./install.sh`, then `sudo ./install.sh rebootstrap` there"
                ),
                format!("; {why}: its old credentials name the old identity"),
            )
        };
        let changed = if files.is_empty() {
            "fetch-credentials.sh".to_owned()
        } else {
            files.join(", ")
        };
        out.push(Consequence::VmReinstall {
            text: format!("vm {vm} must be re-installed ({changed} changed{why}): {command}"),
            vm,
            files,
            reason: reason.to_owned(),
            command,
        });
    }
}

fn deletions(old: &Units, new: &Units, out: &mut Vec<Consequence>) {
    for (scope, before) in old {
        let (name, where_) = match scope {
            Scope::Cluster(c) => (c.clone(), format!("cluster {c}")),
            Scope::Mesh => ("mesh".to_owned(), "every control-plane cluster".to_owned()),
            _ => continue,
        };
        // A cluster that left altogether is reported above.
        let Some(after) = new.get(scope) else {
            continue;
        };
        let gone: Vec<String> = before
            .iter()
            .filter(|(key, unit)| matches!(unit.body, Body::Object(_)) && !after.contains_key(*key))
            .map(|((kind, ns, name), _)| label(kind, ns, name))
            .collect();
        if gone.is_empty() {
            continue;
        }
        out.push(Consequence::ObjectsToDelete {
            text: format!(
                "{} object(s) no longer generated, which `kubectl apply` leaves in {where_}: delete them unless something else now owns them: {}",
                gone.len(),
                gone.join(", ")
            ),
            scope: name,
            objects: gone,
        });
    }
}

fn label(kind: &str, ns: &str, name: &str) -> String {
    if ns.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {ns}/{name}")
    }
}
