//! Emit: `Checked` topology → `Vec<Artifact>`, one module per target.
//!
//! Every emitter is a pure function of the checked topology (and the source
//! file's name, printed in headers): it cannot fail, does no I/O, and reads
//! no clock or environment, so the same input always gives the same bytes.
//! Anything that reaches output is iterated in a fixed order (declaration
//! order, or sorted through `BTreeMap`/`BTreeSet`), never through a hash map.
//!
//! Facts that several targets must agree on (which service account a
//! workload runs as) live here, in one function each, so that the Kubernetes
//! objects and the VM files can never disagree.

pub mod control_plane;
pub mod graph;
pub mod kubernetes;
pub mod prometheus;
pub mod runbook;
pub mod vm;
pub mod yaml;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::artifact::{Artifact, Hold, Sink};
use crate::check::Checked;

/// Every artifact meshc emits for a topology, sorted by path.
pub fn all(checked: &Checked, source_name: &str) -> Vec<Artifact> {
    each(checked, source_name, &Hold)
}

/// Every artifact meshc emits for a topology, each handed to `sink` as soon
/// as it is made; what the sink kept comes back sorted by path.
///
/// The work is shared between two threads (the machines meshc runs on have
/// at least two cores, and a large mesh's emit is most of a build's CPU
/// time). The Kubernetes manifests are decided in one piece, on this
/// thread; the VM bundles are independent jobs, one per VM, which a second
/// thread starts on at once and this one joins when its manifests are done,
/// both taking the next VM from a shared counter. The result is sorted by
/// path, so it does not depend on which thread made what; the sink sees
/// the artifacts in an order that does.
pub fn each<'s, S: Sink>(checked: &Checked, source_name: &str, sink: &'s S) -> Vec<S::Kept> {
    let bundles = vm::bundle::Bundles::new(checked);
    let next_vm = AtomicUsize::new(0);
    let vm_jobs = |out: &mut Vec<S::Kept>, local: &mut S::Local<'s>| {
        take_jobs(&next_vm, bundles.len(), |v| {
            for artifact in bundles.bundle(crate::check::Id::new(v), source_name) {
                out.push(sink.keep(local, artifact));
            }
        });
    };
    let (mut out, helped) = std::thread::scope(|scope| {
        let helper = scope.spawn(|| {
            let mut out = Vec::new();
            vm_jobs(&mut out, &mut sink.local());
            out
        });
        let mut out = Vec::new();
        let mut local = sink.local();
        kubernetes::each(checked, source_name, |artifact| {
            out.push(sink.keep(&mut local, artifact));
        });
        for artifact in control_plane::emit(checked, source_name)
            .into_iter()
            .chain(prometheus::emit(checked, source_name))
        {
            out.push(sink.keep(&mut local, artifact));
        }
        vm_jobs(&mut out, &mut local);
        (out, helper.join())
    });
    match helped {
        Ok(more) => out.extend(more),
        // An emitter cannot fail; a panic there is a bug, reported as one.
        Err(panic) => std::panic::resume_unwind(panic),
    }
    // Last: the runbook names only files the build wrote.
    let runbook = {
        let paths: BTreeSet<&str> = out.iter().map(S::path).collect();
        runbook::emit(checked, source_name, &paths)
    };
    let mut local = sink.local();
    out.extend(
        runbook
            .into_iter()
            .map(|artifact| sink.keep(&mut local, artifact)),
    );
    out.sort_by(|a, b| S::path(a).cmp(S::path(b)));
    out
}

/// Runs `job(i)` for every `i < count` not yet taken from `next`.
fn take_jobs(next: &AtomicUsize, count: usize, mut job: impl FnMut(usize)) {
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= count {
            return;
        }
        job(i);
    }
}

/// `text` in an allocation of its own length. A file's text grows by
/// doubling while it is written and is then held, with tens of thousands of
/// others, until the tree is written; the copy frees the spare half for the
/// next file. (`shrink_to_fit` would not: an allocator may keep a block it is
/// asked to shrink by less than half.) Memory is the cost that matters here:
/// on a virtual machine, first touching a page costs more than most of the
/// work done in it.
pub(crate) fn exact(text: String) -> String {
    if text.capacity() == text.len() {
        text
    } else {
        text.as_str().to_owned()
    }
}

/// The Kubernetes service account a workload of a service runs as: one
/// rule, which check's identities (AuthorizationPolicy principals) follow.
pub use crate::check::graph::service_account;

#[cfg(test)]
mod tests {
    use super::exact;

    #[test]
    fn exact_keeps_the_text_and_drops_the_spare_capacity() {
        let mut grown = String::with_capacity(64);
        grown.push_str("kind: Service\n");
        let held = exact(grown);
        assert_eq!(held, "kind: Service\n");
        assert_eq!(held.capacity(), held.len());
        assert_eq!(exact(String::new()), "");
    }
}
