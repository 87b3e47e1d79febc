//! E401: a name that must be a DNS-1123 label is not one.

use crate::check::names::{Names, Position};

use super::lexical::{Class, check_name};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A name that must be a DNS-1123 label is not one.
    ///
    /// The names of the mesh, networks, clusters, VMs and namespaces, port
    /// names, the Istio `revision` and the `control-plane-namespace` end up
    /// as Kubernetes object and namespace names, label values, host names
    /// and directory names of the generated output. A DNS-1123 label is
    /// what all of them accept: 1 to 63 lower-case letters, digits and
    /// `-`, starting and ending with a letter or digit.
    ///
    /// The rule is also what keeps generated files safe: these names are
    /// written into shell-sourced env files, dnsmasq and hosts files and
    /// YAML, so characters such as `$`, backticks, quotes, `;`, `/`,
    /// whitespace or non-ASCII look-alikes are refused here, before
    /// anything is written.
    ///
    /// ```kdl
    /// vm DB_1 { address "10.0.0.5"; network vpc }   // E401: try `db-1`
    /// service web { port HTTP 80 }                 // E401: port names are lower case
    /// ```
    pub static CODE = "E401", Error, "invalid-dns-label", "a name is not a DNS-1123 label";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    let mut push = |what: &str, name, why: &str| {
        diags.extend(check_name(&CODE, Class::DnsLabel, what, name, why));
    };
    // The default `Mesh` (when lowering could not read the `mesh` node) has
    // an empty name that nobody wrote.
    if !t.mesh.name.span.is_empty() {
        push(
            "mesh name",
            &t.mesh.name,
            "the mesh name labels generated objects",
        );
    }
    if let Some(ns) = &t.mesh.control_plane_namespace {
        push(
            "control-plane namespace",
            ns,
            "it is the Kubernetes namespace istiod runs in",
        );
    }
    if let Some(rev) = &t.mesh.revision {
        push(
            "revision",
            rev,
            "the revision is the `istio.io/rev` label and part of the `istiod-REVISION` Service name",
        );
    }
    for i in &t.mesh.ingresses {
        push(
            "ingress name",
            &i.name,
            "an ingress gateway's name is a Kubernetes object name and part of its service account",
        );
        if let Some(ns) = &i.namespace {
            push(
                "ingress namespace",
                ns,
                "it is the Kubernetes namespace the gateway runs in",
            );
        }
    }
    for n in &t.networks {
        push(
            "network name",
            &n.name,
            "a network name is the `topology.istio.io/network` label and names the network in the mesh config",
        );
    }
    for c in &t.clusters {
        push(
            "cluster name",
            &c.name,
            "a cluster name names its output directory and is its Istio cluster id by default",
        );
    }
    for v in &t.vms {
        push(
            "VM name",
            &v.name,
            "a VM name names its output directory and its WorkloadEntry",
        );
    }
    let why_ns = "namespaces are Kubernetes namespaces, whose names are DNS-1123 labels";
    for n in &t.namespaces {
        push("namespace", &n.name, why_ns);
    }
    // A namespace only named by services is checked once, where it is first
    // named; a declared one was checked at its declaration.
    let mut seen: Names<Position> = Names::with_capacity(t.namespaces.len());
    for n in &t.namespaces {
        seen.insert(&n.name.value, Position(0));
    }
    for s in &t.services {
        if seen.insert(&s.namespace.value, Position(0)) {
            push("namespace", &s.namespace, why_ns);
        }
        for p in &s.ports {
            push(
                "port name",
                &p.name,
                "Kubernetes Service and WorkloadEntry port names are DNS-1123 labels",
            );
        }
    }
}
