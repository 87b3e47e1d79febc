//! E620: a well-known server-first (or sniff-hostile) port whose protocol
//! is not declared.

use super::lexical::shown;
use crate::check::{Context, Rule};
use crate::declare_code;
use crate::diagnostic::Diagnostic;

declare_code! {
    /// A port on the well-known number of a server-first protocol declares
    /// no protocol.
    ///
    /// When a port's protocol is not declared (by the name's prefix,
    /// `mysql`, `tcp-db`, …, or by `protocol`), Istio sniffs it: the
    /// sidecar waits for the client's first bytes to tell HTTP from TCP.
    /// In a server-first protocol the client waits for the server's
    /// greeting instead, so every connection stalls until the sniffing
    /// times out, or fails. Istio's documentation lists SMTP (25), DNS (53),
    /// MySQL (3306) and MongoDB (27017) as incompatible with automatic
    /// protocol selection; FTP (21), SMTP submission (587), POP3 (110) and
    /// IMAP (143) are server-first as well, and Redis (6379) has an Istio
    /// protocol of its own that only a declaration selects. PostgreSQL is
    /// client-first and sniffs fine.
    ///
    /// meshc asks for the declaration rather than guessing it from the
    /// number: the number is only a hint (a MySQL on 3306 is likely, not
    /// certain), the legacy flow's Istio reads port names only (no
    /// `appProtocol`), and a declared name keeps every generated object
    /// and every Istio release in agreement.
    ///
    /// ```kdl
    /// service mysqldb { port db 3306; deploy v1 vm=db }            // E620
    /// service mysqldb { port tcp-db 3306; deploy v1 vm=db }        // fine
    /// service mysqldb { port db 3306 protocol=mysql; deploy v1 vm=db }   // fine
    /// ```
    pub static CODE = "E620", Error, "server-first-port-undeclared", "a server-first protocol's port does not declare its protocol";
}

pub static RULE: Rule = Rule { code: &CODE, run };

/// Well-known ports whose traffic Istio's protocol sniffing must not see:
/// the number, the protocol, the declaration that fits it, and why.
const WELL_KNOWN: &[(u16, &str, &str, Why)] = &[
    (21, "FTP", "tcp", Why::ServerFirst),
    (25, "SMTP", "tcp", Why::ServerFirst),
    (53, "DNS", "tcp", Why::Documented),
    (110, "POP3", "tcp", Why::ServerFirst),
    (143, "IMAP", "tcp", Why::ServerFirst),
    (587, "SMTP submission", "tcp", Why::ServerFirst),
    (3306, "MySQL", "mysql", Why::ServerFirst),
    (6379, "Redis", "redis", Why::OwnProtocol),
    (27017, "MongoDB", "mongo", Why::Documented),
];

/// Why sniffing must not see a well-known port's traffic.
#[derive(Clone, Copy)]
enum Why {
    ServerFirst,
    Documented,
    OwnProtocol,
}

impl Why {
    fn consequence(self, proto: &str) -> String {
        match self {
            Why::ServerFirst => format!(
                "undeclared, Istio sniffs for the client's first bytes while a {proto} client waits for the server's greeting, and the connection stalls"
            ),
            Why::Documented => format!(
                "Istio's documentation lists {proto} as incompatible with automatic protocol selection"
            ),
            Why::OwnProtocol => format!("only a declaration selects Istio's {proto} protocol"),
        }
    }
}

fn run(cx: &Context<'_>, diags: &mut Vec<Diagnostic>) {
    for s in &cx.topo.services {
        for p in &s.ports {
            if p.protocol.is_some() || crate::model::Protocol::from_port_name(&p.name.value).is_some() {
                continue;
            }
            let numbers = [Some(&p.number), p.target_port.as_ref()];
            let Some((at, (number, proto, keyword, why))) = numbers
                .into_iter()
                .flatten()
                .find_map(|n| WELL_KNOWN.iter().find(|(w, ..)| *w == n.value).map(|w| (n, w)))
            else {
                continue;
            };
            let name = shown(&p.name.value);
            diags.push(
                Diagnostic::new(
                    &CODE,
                    p.name.span,
                    format!(
                        "port `{name}` of `{}` is on {number}, {proto}'s port, but declares no protocol",
                        shown(&s.name.value)
                    ),
                )
                .label("the name selects no protocol")
                .with_secondary(at.span, format!("{proto}'s well-known port"))
                .help(format!(
                    "declare it: name the port `{keyword}` or `tcp-{name}`, or add `protocol={keyword}` (`protocol=tcp` for plain TCP); {}",
                    why.consequence(proto)
                )),
            );
        }
    }
}
