//! E606: an explicit `protocol` that contradicts the port name's prefix.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;
use crate::model::Protocol;

declare_code! {
    /// A port's explicit `protocol` contradicts the protocol its name
    /// selects.
    ///
    /// Istio picks a port's protocol from its name: `http`, `http-web`,
    /// `grpc-api`, `tcp-db`, … (`<protocol>[-<suffix>]`). meshc writes the
    /// explicit `protocol` into `appProtocol` and ServiceEntry ports, while
    /// the name still reaches other objects and older Istio versions that
    /// only read names. When the two disagree, different proxies treat the
    /// port differently (an HTTP filter chain on one side, raw TCP on the
    /// other), which breaks traffic in ways that are hard to trace.
    ///
    /// ```kdl
    /// port http-web 8080 protocol=grpc    // E606: the name says http
    /// port web 8080 protocol=grpc         // fine: the name says nothing
    /// ```
    pub static CODE = "E606", Error, "protocol-name-mismatch", "an explicit protocol contradicts the port name";
}

pub static RULE: Rule = Rule { code: &CODE, run };

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for s in &cx.topo.services {
        for p in &s.ports {
            let Some(explicit) = &p.protocol else { continue };
            let Some(named) = Protocol::from_port_name(&p.name.value) else {
                continue;
            };
            if named == explicit.value {
                continue;
            }
            diags.push(
                Diagnostic::new(
                    &CODE,
                    explicit.span,
                    format!(
                        "port `{}` of `{}` says protocol {}, but its name selects {}",
                        shown(&p.name.value),
                        shown(&s.name.value),
                        explicit.value.keyword(),
                        named.keyword()
                    ),
                )
                .label(format!("protocol {}", explicit.value.keyword()))
                .with_secondary(p.name.span, format!("the name selects {}", named.keyword()))
                .help(format!(
                    "rename the port `{}` (or `{}-…`) so both agree, or drop `protocol`",
                    explicit.value.keyword(),
                    explicit.value.keyword()
                )),
            );
        }
    }
}
