//! Meaning: is this topology one meshc can turn into working artifacts?
//!
//! `check` builds the name index and the graph once, runs every rule, and
//! returns all findings sorted by position. Only a topology without errors
//! becomes a `Checked`, the type every emitter requires: an emitter cannot
//! be handed something that was not checked.
//!
//! Rules live one per file under `rules/`, each with its code, its user
//! documentation (the code's doc comment, printed by `meshc explain`) and a
//! `run` function. Every rule runs every time; a rule skips what an earlier
//! problem (an unresolved reference, say) makes meaningless, so one mistake
//! is reported once.

pub mod allow;
pub mod graph;
pub mod id;
pub mod index;
pub mod names;
pub mod proven;
pub mod rules;

#[cfg(test)]
mod graph_tests;

use crate::diagnostic::{self, Code, Diagnostic};
use crate::model::Topology;
pub use graph::MeshGraph;
pub use id::{ClusterId, Id, IdVec, NetworkId, ServiceId, VmId, WorkloadId};
pub use index::{Index, NamespaceInfo, Target, Workload};
pub use names::Names;
pub use proven::{DnsName, Proven, ServiceWords, SshTarget, VmWords, Word};

/// What a rule sees.
pub struct Context<'t> {
    pub topo: &'t Topology,
    pub index: &'t Index,
    pub graph: &'t MeshGraph,
}

/// A rule: its code and the function that finds violations.
pub struct Rule {
    pub code: &'static Code,
    pub run: fn(&Context<'_>, &mut Vec<Diagnostic>),
}

/// A topology that passed every error-level rule, with its index and graph.
#[derive(Debug)]
pub struct Checked {
    topology: Topology,
    index: Index,
    graph: MeshGraph,
    proven: Proven,
}

impl Checked {
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn graph(&self) -> &MeshGraph {
        &self.graph
    }

    /// What check proved, in the form the emitters use.
    pub fn proven(&self) -> &Proven {
        &self.proven
    }

    /// The graph, to sabotage in tests that prove the emitters read it.
    #[cfg(test)]
    pub(crate) fn graph_mut(&mut self) -> &mut MeshGraph {
        &mut self.graph
    }
}

/// A topology with its index, its graph and every finding: what `check`
/// concludes, before deciding whether it is acceptable. Views such as
/// `meshc graph` use it to draw a topology that has problems.
#[derive(Debug)]
pub struct Analysis {
    pub topology: Topology,
    pub index: Index,
    pub graph: MeshGraph,
    /// Every finding, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

/// Builds the index and the graph and runs every rule.
pub fn analyze(topology: Topology) -> Analysis {
    let index = Index::build(&topology);
    let graph = MeshGraph::build(&topology, &index);
    let mut diagnostics = Vec::new();
    let cx = Context {
        topo: &topology,
        index: &index,
        graph: &graph,
    };
    for rule in rules::ALL {
        (rule.run)(&cx, &mut diagnostics);
    }
    diagnostic::sort(&mut diagnostics);
    Analysis {
        topology,
        index,
        graph,
        diagnostics,
    }
}

/// Runs every rule. Returns the `Checked` topology when no rule found an
/// error, and all findings (warnings included) in source order.
pub fn check(topology: Topology) -> (Option<Checked>, Vec<Diagnostic>) {
    let Analysis {
        topology,
        index,
        graph,
        mut diagnostics,
    } = analyze(topology);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return (None, diagnostics);
    }
    match Proven::establish(&topology, &index) {
        Ok(proven) => (
            Some(Checked {
                topology,
                index,
                graph,
                proven,
            }),
            diagnostics,
        ),
        Err(gaps) => {
            diagnostics.extend(gaps);
            diagnostic::sort(&mut diagnostics);
            (None, diagnostics)
        }
    }
}

/// Every code meshc can report: front end first, then the rules, by code.
pub fn catalogue() -> Vec<&'static Code> {
    let mut all: Vec<&'static Code> = diagnostic::codes::FRONT_END
        .iter()
        .copied()
        .chain(rules::ALL.iter().map(|r| r.code))
        .chain(crate::import::CODES.iter().copied())
        .chain(crate::import::VM_FILE_CODES.iter().copied())
        .collect();
    all.sort_by_key(|c| c.code);
    all
}
