//! Syntax tree → model: the shape of a topology.
//!
//! Lowering knows which nodes and settings exist and what type each value
//! has; it reports unknown names (with "did you mean"), missing and
//! duplicated settings, wrong types, out-of-range numbers and malformed
//! addresses. It does not resolve references or judge meaning: that is
//! `check`'s job. It never stops at the first problem: whatever can be read
//! is read, so that one run reports everything.

pub mod language;
mod reader;

use language::{
    CLUSTER, DEPLOY, ILB, INGRESS, MESH, NAMESPACE, NETWORK, PORT, PROBE, ProbeKindWord, ROUTE, SERVICE, VM,
};
use reader::{Reader, as_string};

use crate::diagnostic::{Diagnostic, codes};
use crate::model::{
    Cluster, Deployment, Ilbs, Ingress, IstioVersion, Labels, Mesh, Namespace, Network, Placement, Port,
    Probe, ProbeKind, Route, Service, Topology, Vm,
};

use crate::source::{Span, Spanned};
use crate::syntax::{Document, Node};
#[cfg(debug_assertions)]
#[doc(hidden)]
pub use reader::coverage;

/// Lowers a document into a topology. The topology is returned even when
/// there are diagnostics, holding everything that could be read.
pub fn lower(doc: &Document<'_>) -> (Topology, Vec<Diagnostic>) {
    let mut lowering = Lowering::new();
    for node in &doc.nodes {
        lowering.node(node);
    }
    lowering.finish()
}

/// [`lower`] one top-level node at a time, so that each can be freed once
/// read (`syntax::parse_each` hands them over as they are parsed): the
/// same topology and diagnostics, without the whole tree in memory.
pub struct Lowering {
    topo: Topology,
    diags: Vec<Diagnostic>,
    /// `mesh` nodes, read last (after every declaration, as they always were).
    meshes: Vec<Node<'static>>,
}

impl Default for Lowering {
    fn default() -> Self {
        Lowering::new()
    }
}

impl Lowering {
    pub fn new() -> Lowering {
        // Settings refused or read by an earlier run on this thread are not ours.
        reader::take_dropped();
        reader::take_flow_bound();
        ALLOWS.with(|a| a.borrow_mut().clear());
        Lowering {
            topo: Topology::default(),
            diags: Vec::new(),
            meshes: Vec::new(),
        }
    }

    /// Reads one top-level node.
    pub fn node(&mut self, node: &Node<'_>) {
        let Lowering { topo, diags, meshes } = self;
        // A declaration that cannot be read whole is left out of the model,
        // but its name is remembered so that references to it are not
        // reported a second time as unknown.
        let mut keep = |ok: bool| {
            if !ok {
                topo.invalid_names.extend(declared_name(node));
                let kind = language::TOP.iter().find(|b| b.name == node.name.text);
                topo.dropped.declarations.extend(kind.map(|b| b.name));
            }
        };
        match node.name.text.as_ref() {
            "mesh" => meshes.push(node.clone().into_owned()),
            "network" => keep(network(node, diags).map(|n| topo.networks.push(n)).is_some()),
            "cluster" => keep(cluster(node, diags).map(|n| topo.clusters.push(n)).is_some()),
            "vm" => keep(vm(node, diags).map(|n| topo.vms.push(n)).is_some()),
            "namespace" => keep(namespace(node, diags).map(|n| topo.namespaces.push(n)).is_some()),
            "service" => keep(service(node, diags).map(|n| topo.services.push(n)).is_some()),
            other => {
                let top = language::TOP.iter().map(|b| b.name);
                let help = match crate::diagnostic::suggest(other, top.clone()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the top level accepts: {}", top.collect::<Vec<_>>().join(", ")),
                };
                diags.push(
                    Diagnostic::new(
                        &codes::UNKNOWN_NODE,
                        node.name.span,
                        format!("unknown node `{other}`"),
                    )
                    .label("unknown node")
                    .help(help),
                );
            }
        }
    }

    /// The topology and every finding, once all nodes are read.
    pub fn finish(self) -> (Topology, Vec<Diagnostic>) {
        let Lowering {
            mut topo,
            mut diags,
            meshes,
        } = self;
        lower_meshes(&meshes, &mut topo, &mut diags);
        topo.dropped.settings.extend(reader::take_dropped());
        topo.flow_bound = reader::take_flow_bound();
        topo.allows = ALLOWS.with(|a| std::mem::take(&mut *a.borrow_mut()));
        (topo, diags)
    }
}

/// The one `mesh` node; a missing or second one is reported.
fn lower_meshes(meshes: &[Node<'_>], topo: &mut Topology, diags: &mut Vec<Diagnostic>) {
    match meshes {
        [] => diags.push(
            Diagnostic::new(
                &codes::MESH_COUNT,
                Span::file_start(),
                "the topology has no `mesh` node",
            )
            .help("add `mesh NAME { istio \"1.24\" }` at the top of the file"),
        ),
        [one] => match mesh(one, diags) {
            Some(m) => topo.mesh = m,
            None => {
                topo.dropped.declarations.insert("mesh");
            }
        },
        [first, rest @ ..] => {
            match mesh(first, diags) {
                Some(m) => topo.mesh = m,
                None => {
                    topo.dropped.declarations.insert("mesh");
                }
            }
            for again in rest {
                diags.push(
                    Diagnostic::new(&codes::MESH_COUNT, again.name.span, "a second `mesh` node")
                        .label("second mesh")
                        .with_secondary(first.name.span, "first mesh")
                        .help("a topology describes one mesh; merge the two"),
                );
            }
        }
    }
}

/// The name a node declares, read leniently: its first argument or its
/// `name` setting, when that is a string.
fn declared_name(node: &Node<'_>) -> Option<String> {
    let from_arg = node.args().next();
    let from_prop = node
        .props()
        .find(|e| e.key.as_ref().is_some_and(|k| k.text == "name"));
    let from_child = node
        .children
        .iter()
        .find(|c| c.name.text == "name")
        .and_then(|c| c.args().next());
    match &from_arg.or(from_prop).or(from_child)?.value {
        crate::syntax::Value::String(s) => Some(s.as_ref().to_owned()),
        _ => None,
    }
}

fn name(r: &Reader<'_>, diags: &mut Vec<Diagnostic>) -> Option<Spanned<String>> {
    r.string("name", diags)
}

fn mesh(node: &Node<'_>, diags: &mut Vec<Diagnostic>) -> Option<Mesh> {
    let r = Reader::new(node, &MESH, diags);
    allows(&r, node, diags);
    let name = name(&r, diags);
    let istio = match r.string("istio", diags) {
        Some(v) => match IstioVersion::parse(&v.value) {
            Some(parsed) => Some(Spanned::new(parsed, v.span)),
            None => {
                diags.push(
                    Diagnostic::new(
                        &codes::INVALID_VALUE,
                        v.span,
                        format!("`{}` is not an Istio version", v.value),
                    )
                    .label("expected MAJOR.MINOR or MAJOR.MINOR.PATCH")
                    .help("write the Istio release, e.g. \"1.24\" or \"1.0.9\""),
                );
                None
            }
        },
        None => None,
    };
    let control_plane_auth = r
        .word("control-plane-auth", diags)
        .map(|c| Spanned::new(c.value.to_owned(), c.span));
    Some(Mesh {
        name: name?,
        istio: istio?,
        trust_domain: r.string("trust-domain", diags),
        mesh_id: r.string("mesh-id", diags),
        control_plane_namespace: r.string("control-plane-namespace", diags),
        revision: r.string("revision", diags),
        least_privilege: r.bool("least-privilege", diags),
        control_plane_auth,
        data_plane_mtls: r.bool("data-plane-mtls", diags),
        ingresses: r.blocks("ingress").filter_map(|n| ingress(n, diags)).collect(),
        span: node.span,
    })
}

fn ingress(node: &Node<'_>, diags: &mut Vec<Diagnostic>) -> Option<Ingress> {
    let r = Reader::new(node, &INGRESS, diags);
    Some(Ingress {
        name: name(&r, diags)?,
        kind: r.choice("kind", diags),
        namespace: r.string("namespace", diags),
        span: node.span,
    })
}

fn network(node: &Node<'_>, diags: &mut Vec<Diagnostic>) -> Option<Network> {
    let r = Reader::new(node, &NETWORK, diags);
    allows(&r, node, diags);
    Some(Network {
        name: name(&r, diags)?,
        cidrs: r.nets("cidr", diags),
        gateway: r.ip("gateway", diags),
        span: node.span,
    })
}

fn cluster(node: &Node<'_>, diags: &mut Vec<Diagnostic>) -> Option<Cluster> {
    let r = Reader::new(node, &CLUSTER, diags);
    allows(&r, node, diags);
    let ilbs = r.read_block("ilb", diags, |b, diags| {
        let ir = Reader::new(b, &ILB, diags);
        let mut get = |n: &str| ir.ip(n, diags);
        let (pilot, mixer, citadel, kube_dns) = (get("pilot"), get("mixer"), get("citadel"), get("kube-dns"));
        Some(Ilbs {
            pilot: pilot?,
            mixer: mixer?,
            citadel: citadel?,
            kube_dns: kube_dns?,
            span: b.span,
        })
    });
    let network = r.string("network", diags);
    Some(Cluster {
        name: name(&r, diags)?,
        network: network?,
        pod_cidrs: r.nets("pod-cidr", diags),
        service_cidrs: r.nets("service-cidr", diags),
        cluster_domain: r.string("cluster-domain", diags),
        kube_dns: r.ip("kube-dns", diags),
        cluster_id: r.string("cluster-id", diags),
        control_plane: r.bool("control-plane", diags),
        east_west_gateway: r.ip("east-west-gateway", diags),
        ilbs,
        ilb_annotation: r.choice("ilb-annotation", diags),
        span: node.span,
    })
}

fn vm(node: &Node<'_>, diags: &mut Vec<Diagnostic>) -> Option<Vm> {
    let r = Reader::new(node, &VM, diags);
    allows(&r, node, diags);
    let address = r.ip("address", diags);
    let network = r.string("network", diags);
    let id = |n: &str, diags: &mut Vec<Diagnostic>| {
        r.integer(n, diags)
            .and_then(|v| u32::try_from(v.value).ok().map(|u| Spanned::new(u, v.span)))
    };
    let proxy_uid = id("proxy-uid", diags);
    let proxy_gid = id("proxy-gid", diags);
    Some(Vm {
        name: name(&r, diags)?,
        address: address?,
        network: network?,
        cluster: r.string("cluster", diags),
        ssh: r.string("ssh", diags),
        service_account: r.string("service-account", diags),
        labels: labels(&r, diags),
        proxy_uid,
        proxy_gid,
        interception: r.choice("interception", diags),
        dns: r.choice("dns", diags),
        dns_servers: r.ips("dns-server", diags),
        capture_all_dns: r.bool("capture-all-dns", diags),
        inbound_exclude_ports: r.ports("inbound-exclude-ports", diags),
        outbound_exclude_ports: r.ports("outbound-exclude-ports", diags),
        outbound_exclude_cidrs: r.nets("outbound-exclude-cidrs", diags),
        autoregister: r.bool("autoregister", diags),
        span: node.span,
    })
}

/// `labels { key "value" }` or `labels key=value`; keys are free-form.
fn labels(r: &Reader<'_>, diags: &mut Vec<Diagnostic>) -> Labels {
    let mut out = Vec::new();
    let Some(block) = r.block("labels", diags) else {
        return Labels::default();
    };
    for entry in &block.entries {
        match &entry.key {
            Some(k) => {
                if let Some(v) = as_string(entry, &k.text, diags) {
                    out.push((Spanned::new(k.text.as_ref().to_owned(), k.span), v));
                }
            }
            None => diags.push(
                Diagnostic::new(&codes::INVALID_VALUE, entry.span, "a label needs a key")
                    .label("value without a key")
                    .help("write labels as `labels key=\"value\"` or `labels { key \"value\" }`"),
            ),
        }
    }
    for child in &block.children {
        let key = Spanned::new(child.name.text.as_ref().to_owned(), child.name.span);
        let args: Vec<_> = child.args().collect();
        match args.as_slice() {
            [one] if child.children.is_empty() && child.props().next().is_none() => {
                if let Some(v) = as_string(one, &key.value, diags) {
                    out.push((key, v));
                }
            }
            _ => diags.push(
                Diagnostic::new(
                    &codes::INVALID_VALUE,
                    child.span,
                    format!("label `{}` must have exactly one value", key.value),
                )
                .label("expected `key \"value\"`")
                .help("write each label as `key \"value\"`"),
            ),
        }
    }
    out.sort_by_key(|(k, _)| k.span.start);
    // A key given twice is ambiguous (which value would the object get?).
    let mut seen: std::collections::BTreeMap<&str, crate::source::Span> = std::collections::BTreeMap::new();
    for (k, _) in &out {
        match seen.get(k.value.as_str()) {
            Some(&first) => diags.push(
                Diagnostic::new(
                    &codes::DUPLICATE_SETTING,
                    k.span,
                    format!("label `{}` is given twice", k.value),
                )
                .label("given again here")
                .with_secondary(first, "first given here")
                .help("keep one of them"),
            ),
            None => {
                seen.insert(&k.value, k.span);
            }
        }
    }
    Labels(out)
}

fn namespace(node: &Node<'_>, diags: &mut Vec<Diagnostic>) -> Option<Namespace> {
    let r = Reader::new(node, &NAMESPACE, diags);
    allows(&r, node, diags);
    Some(Namespace {
        name: name(&r, diags)?,
        labels: labels(&r, diags),
        injection: r.bool("injection", diags),
        least_privilege: r.bool("least-privilege", diags),
        span: node.span,
    })
}

fn service(node: &Node<'_>, diags: &mut Vec<Diagnostic>) -> Option<Service> {
    let r = Reader::new(node, &SERVICE, diags);
    allows(&r, node, diags);
    let ports = exact(r.blocks("port"), |n| port(n, diags));
    let deployments = exact(r.blocks("deploy"), |n| deployment(n, diags));
    let routes = exact(r.blocks("route"), |n| route(n, diags));
    let probe = r.read_block("probe", diags, probe);
    // A block that could not be read is a dropped setting of the service.
    for (block, kept) in [
        ("port", ports.len()),
        ("deploy", deployments.len()),
        ("route", routes.len()),
    ] {
        if kept < r.blocks(block).count() {
            r.note_dropped(block);
        }
    }
    let namespace = r
        .string("namespace", diags)
        .unwrap_or_else(|| Spanned::new("default".to_owned(), node.name.span));
    Some(Service {
        name: name(&r, diags)?,
        namespace,
        ports,
        deployments,
        calls: r.strings("calls", diags),
        routes,
        service_account: r.string("service-account", diags),
        registration: r.choice("registration", diags),
        entry_point: r.bool("entry-point", diags),
        probe,
        span: node.span,
    })
}

/// What `read` makes of each block, in a vector with room for exactly the
/// blocks written. Collected from a filter, a service's one port or one
/// `deploy` line kept room for four: 10 of a 10k mesh's 24 MB of model.
fn exact<'n, T>(
    blocks: impl Iterator<Item = &'n Node<'n>> + Clone,
    read: impl FnMut(&'n Node<'n>) -> Option<T>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(blocks.clone().count());
    out.extend(blocks.filter_map(read));
    out
}

fn port(node: &Node<'_>, diags: &mut Vec<Diagnostic>) -> Option<Port> {
    let r = Reader::new(node, &PORT, diags);
    let name = r.string("name", diags);
    let number = r.port("number", diags);
    let protocol = r.choice("protocol", diags);
    Some(Port {
        name: name?,
        number: number?,
        protocol,
        target_port: r.port("target-port", diags),
        span: node.span,
    })
}

fn deployment(node: &Node<'_>, diags: &mut Vec<Diagnostic>) -> Option<Deployment> {
    let r = Reader::new(node, &DEPLOY, diags);
    let versions = r.strings("version", diags);
    if versions.is_empty() && !r.has("version") {
        return None;
    }
    let placement = match (r.string("cluster", diags), r.string("vm", diags)) {
        (Some(c), None) => Placement::Cluster(c),
        (None, Some(v)) => Placement::Vm(v),
        (Some(c), Some(v)) => {
            diags.push(
                Diagnostic::new(
                    &codes::DUPLICATE_SETTING,
                    v.span,
                    "a deployment goes to a cluster or a VM, not both",
                )
                .label("vm given here")
                .with_secondary(c.span, "cluster given here")
                .help("write two `deploy` lines, one per target"),
            );
            return None;
        }
        (None, None) => {
            if !r.has("cluster") && !r.has("vm") {
                diags.push(
                    Diagnostic::new(
                        &codes::MISSING_VALUE,
                        node.name.span,
                        "`deploy` needs `cluster=` or `vm=`",
                    )
                    .label("no target")
                    .help("say where the versions run: `deploy v1 cluster=NAME` or `deploy v1 vm=NAME`"),
                );
            }
            return None;
        }
    };
    let service_account = r.string("service-account", diags);
    if let (Some(sa), Placement::Vm(_)) = (&service_account, &placement) {
        diags.push(
            Diagnostic::new(
                &codes::INVALID_VALUE,
                sa.span,
                "`service-account` on a VM deployment has no effect",
            )
            .label("VM deployment")
            .help("a VM's sidecar has one identity: set `service-account` on the `vm` instead"),
        );
    }
    Some(Deployment {
        versions,
        placement,
        service_account,
        span: node.span,
    })
}

fn route(node: &Node<'_>, diags: &mut Vec<Diagnostic>) -> Option<Route> {
    let r = Reader::new(node, &ROUTE, diags);
    let weight = r
        .integer("weight", diags)
        .and_then(|w| u32::try_from(w.value).ok().map(|u| Spanned::new(u, w.span)));
    Some(Route {
        version: r.string("version", diags)?,
        weight,
        span: node.span,
    })
}

fn probe(node: &Node<'_>, diags: &mut Vec<Diagnostic>) -> Option<Probe> {
    let r = Reader::new(node, &PROBE, diags);
    let kind = r.choice::<ProbeKindWord>("kind", diags)?;
    let need_port = |diags: &mut Vec<Diagnostic>| {
        if !r.has("port") {
            r.missing("port", diags);
        }
        r.port("port", diags)
    };
    let kind = match kind.value {
        ProbeKindWord::Http => ProbeKind::Http {
            port: need_port(diags)?,
            path: r.string("path", diags),
        },
        ProbeKindWord::Tcp => ProbeKind::Tcp {
            port: need_port(diags)?,
        },
        ProbeKindWord::Exec => {
            let command = r.strings("command", diags);
            if command.is_empty() {
                r.missing("command", diags);
                return None;
            }
            ProbeKind::Exec { command }
        }
    };
    Some(Probe {
        kind,
        span: node.span,
    })
}

thread_local! {
    /// The `allow` codes read since the last `lower` began, the same side
    /// channel as the reader's refused settings.
    static ALLOWS: std::cell::RefCell<Vec<crate::model::Allow>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The codes a declaration's `allow` setting names (`allow "W901"` or
/// `allow="W901"`), read through its reader like any list setting (a code
/// that is not a string is E204, never silently ignored), each covering the
/// declaration: from its first argument or setting to its last. (Not the
/// node's own span: a TOML table in an array of tables shares its key's
/// span with the others.)
fn allows(r: &Reader<'_>, node: &Node<'_>, diags: &mut Vec<Diagnostic>) {
    let scope = node
        .entries
        .iter()
        .map(|e| e.span)
        .chain(node.children.iter().map(|c| c.span))
        .reduce(Span::join)
        .unwrap_or(node.span);
    let codes = r.strings("allow", diags);
    ALLOWS.with(|a| {
        a.borrow_mut()
            .extend(codes.into_iter().map(|code| crate::model::Allow { code, scope }))
    });
}

#[cfg(test)]
mod tests {
    use crate::source::Source;
    use crate::syntax::{Limits, Syntax};

    /// A service's lists are held with room for what was written, not for
    /// four (`exact`, `Reader::strings`): at 10k services the spare room
    /// was 10 of the model's 24 MB.
    #[test]
    fn lists_keep_no_spare_room() {
        let source = Source::new(
            "t.kdl",
            "mesh m { istio \"1.24\" }\nservice s {\n  port http 80\n  deploy v1 cluster=c\n  route v1\n  calls t\n}\n",
        );
        let (topology, diags) = crate::front_end(&source, Syntax::Kdl, Limits::default());
        assert!(diags.is_empty(), "{diags:?}");
        let s = &topology.expect("a topology").services[0];
        let rooms = [
            s.ports.capacity(),
            s.deployments.capacity(),
            s.routes.capacity(),
            s.calls.capacity(),
            s.deployments[0].versions.capacity(),
        ];
        assert_eq!(rooms, [1; 5]);
    }
}
