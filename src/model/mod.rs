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
