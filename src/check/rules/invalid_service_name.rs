//! E402: a service name that Kubernetes would not accept for a Service.

use super::lexical::{Class, check_name};
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A service name is not a DNS-1035 label.
    ///
    /// Every service becomes a Kubernetes Service of the same name (and its
    /// host `NAME.NAMESPACE.svc.cluster.local`). Kubernetes requires
    /// Service names to be DNS-1035 labels: 1 to 63 lower-case letters,
    /// digits and `-`, starting with a letter and ending with a letter or
    /// digit. A name such as `3d-render` is a valid DNS-1123 label but is
    /// still refused by the API server for a Service.
    ///
    /// Like every name, it also reaches generated env, hosts and YAML
    /// files, so anything outside that charset is refused.
    ///
    /// ```kdl
    /// service "3d-render" { port http 80 } // E402: starts with a digit
    /// service Reviews { port http 80 }     // E402: upper case
    /// ```
    pub static CODE = "E402", Error, "invalid-service-name", "a service name is not a DNS-1035 label";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for s in &cx.topo.services {
        diags.extend(check_name(
            &CODE,
            Class::Dns1035,
            "service name",
            &s.name,
            "a service becomes a Kubernetes Service, whose name is a DNS-1035 label",
        ));
    }
}
