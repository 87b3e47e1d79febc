//! The typed topology: what the user declared, with a span on every
//! declaration and every reference.
//!
//! This is plain data. It knows nothing of KDL, TOML, petgraph, miette or any
//! output format, and it decides nothing: references are kept as names
//! (`Ref`) and resolved by `check`, which is the only stage that decides a
//! topology is acceptable. Collections keep declaration order; anything that
//! reaches output is sorted by the emitters.

mod infra;
mod mesh;
mod service;

pub use infra::{Cluster, DnsMode, IlbAnnotation, Ilbs, Interception, Namespace, Network, Vm};
pub use mesh::{Flow, Ingress, IngressKind, IstioVersion, Mesh};
pub use service::{Deployment, Placement, Port, Probe, ProbeKind, Protocol, Registration, Route, Service};

use crate::source::{Span, Spanned};

/// A declared name and where it was declared.
pub type Name = Spanned<String>;

/// A reference by name to something declared elsewhere, and where the
/// reference was written.
pub type Ref = Spanned<String>;

/// The whole topology.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    pub mesh: Mesh,
    pub networks: Vec<Network>,
    pub clusters: Vec<Cluster>,
    pub vms: Vec<Vm>,
    pub namespaces: Vec<Namespace>,
    pub services: Vec<Service>,
    /// Names of declarations that lowering could not read whole (and left
    /// out). References to them are not reported again as unknown.
    pub invalid_names: std::collections::BTreeSet<String>,
    /// What lowering refused to read: rules consult it so that a mistake is
    /// not reported again as the absence of what it dropped.
    pub dropped: Dropped,
    /// Settings, choice words and blocks written that belong to one Istio
    /// flow, in the order read (the language table says which; E802/E803
    /// judge them against the mesh's flow).
    pub flow_bound: Vec<FlowBound>,
    /// Every code an `allow` names, in source order (`check::allow`).
    pub allows: Vec<Allow>,
}

/// A setting (or one word of it, or a block) that only one Istio flow has,
/// as written and read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowBound {
    pub setting: &'static str,
    /// The choice word, when only that word is bound to the flow
    /// (`dns capture`).
    pub word: Option<&'static str>,
    pub flow: Flow,
    /// The value's span (the block's, for a block).
    pub span: Span,
    /// What the help adds after "remove `…`".
    pub instead: &'static str,
}

/// One code named by an `allow` setting, and the declaration it covers:
/// warnings with that code whose primary span lies in `scope` are dropped.
#[derive(Clone, Debug)]
pub struct Allow {
    pub code: Spanned<String>,
    pub scope: Span,
}

/// Settings written with a value lowering refused (a wrong type, a number
/// out of range, a malformed address, a misspelt setting name, a child
/// block that could not be read), and declarations left out whole. A rule
/// that would report something as missing first asks whether it was
/// written and dropped: then the cause is already reported, and a second
/// finding (`control-plane yes` → "add `control-plane #true`") misleads.
#[derive(Clone, Debug, Default)]
pub struct Dropped {
    /// (span of the node it was written on, the setting's name).
    pub settings: std::collections::BTreeSet<(Span, &'static str)>,
    /// Kinds of top-level declarations left out whole (`cluster`, …).
    pub declarations: std::collections::BTreeSet<&'static str>,
}

impl Dropped {
    /// Whether setting `name` of the node at `node` was written and dropped.
    pub fn setting(&self, node: Span, name: &'static str) -> bool {
        self.settings.contains(&(node, name))
    }

    /// Whether setting `name` was written and dropped on any node.
    pub fn any_setting(&self, name: &str) -> bool {
        self.settings.iter().any(|&(_, n)| n == name)
    }

    /// Whether a declaration of this kind was left out.
    pub fn declaration(&self, kind: &str) -> bool {
        self.declarations.contains(kind)
    }
}

/// Labels as written: key and value, each with its span, in source order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels(pub Vec<(Spanned<String>, Spanned<String>)>);

impl Labels {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.value.as_str(), v.value.as_str()))
    }
}

/// A port number as written.
pub type PortNumber = Spanned<u16>;

/// A span for things the user did not write (defaults). Diagnostics about a
/// defaulted value point at the declaration that owns it instead.
pub fn implicit() -> Span {
    Span::file_start()
}
