//! W903: a declared namespace with no service in it.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A declared namespace contains no service.
    ///
    /// Namespaces exist to hold services; a declared one that holds none
    /// is usually left over from a rename, or its services misspell it
    /// (and so land in a namespace of their own). The control-plane
    /// namespace is exempt: declaring it to give it labels is normal.
    ///
    /// ```kdl
    /// namespace bookinfo                          // W903
    /// service web namespace=bookinf { … }         // a typo: lands in `bookinf`
    /// ```
    pub static CODE = "W903", Warning, "empty-namespace", "a declared namespace contains no service";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    let cp = cx.topo.mesh.control_plane_namespace();
    // A declared namespace is usually empty because its services misspell
    // it, and a misspelt name is one nobody declared.
    let implied: Vec<&str> = cx
        .index
        .namespaces
        .values()
        .filter(|n| n.declared.is_none())
        .map(|n| n.name.as_str())
        .collect();
    // A service left out by lowering may be what it held.
    if cx.topo.dropped.declaration("service") {
        return;
    }
    for info in cx.index.namespaces.values() {
        let Some(i) = info.declared else { continue };
        if !info.services.is_empty() || info.name == cp {
            continue;
        }
        let ns = &cx.topo.namespaces[i];
        let help = match crate::diagnostic::suggest(&ns.name.value, implied.iter().copied()) {
            Some(s) => format!(
                "services use namespace `{}`: if that misspells `{}`, correct it there; otherwise put services in `{}` or remove it",
                shown(s),
                shown(&ns.name.value),
                shown(&ns.name.value)
            ),
            None => format!(
                "put services in it (`namespace={}` on a service), or remove it",
                shown(&ns.name.value)
            ),
        };
        diags.push(
            Diagnostic::new(
                &CODE,
                ns.name.span,
                format!("namespace `{}` contains no service", shown(&ns.name.value)),
            )
            .label("empty namespace")
            .help(help),
        );
    }
}
