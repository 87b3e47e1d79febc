//! Model → topology text: the last step of `meshc import`, and the inverse
//! of lowering.
//!
//! [`print`] writes a [`Topology`] in the language, KDL (in exactly `meshc
//! fmt`'s canonical form, so formatting the output changes nothing) or TOML
//! (the same schema), such that lowering the text gives the same model back
//! (spans aside). It prints what the model holds as written: an `Option`
//! that is `None` stays absent (defaults are the model's accessors, not
//! text), vectors keep their order, and every setting is named by the
//! language table (`lower::language`), so a renamed setting cannot drift.
//!
//! Any string prints as a string that reads back as itself: KDL through
//! the formatter's own quoting (`syntax::format::string`), TOML as a basic
//! string with escapes for every control, bidi and invisible character.
//!
//! [`Note`]s are the importer's remarks for the user: comment lines (`//` in
//! KDL, `#` in TOML) right above the declaration they are about. A note's
//! text cannot leave its comment: each of its lines (any newline a KDL or
//! TOML reader knows ends one) becomes a comment line of its own, and
//! control, bidi and invisible characters are written visibly as
//! `\u{…}`. A note about a declaration the topology does not have is
//! printed at the top of the file, so no note is ever dropped.
//!
//! The layout is fixed: the mesh, then networks, clusters, VMs, namespaces
//! and services in the model's order, one blank line between declarations;
//! a declaration's name is its first argument; a service's namespace, a
//! port's number and a `deploy`'s target are written on its line, every
//! other setting on a line of its own in the order of the language table.
//! An `allow` is printed in the declaration whose name it covers (the
//! model keeps allows apart, each with the span of its declaration).

use std::collections::BTreeMap;

use crate::lower::language::{
    self, CLUSTER, Choice, DEPLOY, ILB, INGRESS, LABELS, MESH, NAMESPACE, NETWORK, PORT, PROBE,
    ProbeKindWord, ROUTE, SERVICE, Shape, VM,
};
use crate::model::{Allow, Placement, ProbeKind, Topology};
use crate::source::Span;
use crate::syntax::kdl_v2::chars;

/// The syntax to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Kdl,
    Toml,
}

/// A top-level declaration, by name.
///
/// `Service` names a service by `name` or by `name.namespace`; a bare name
/// matches that service in every namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decl {
    Mesh,
    Network(String),
    Cluster(String),
    Vm(String),
    Namespace(String),
    Service(String),
}

/// A remark printed as comment lines right above a declaration; `text` is
/// one or more lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub on: Decl,
    pub text: String,
}

/// The topology as text in `syntax`, with `notes` above their declarations.
pub fn print(topology: &Topology, notes: &[Note], syntax: Syntax) -> String {
    let decls = declarations(topology);
    // Notes by what they are on, in their order (a lookup per
    // declaration, not a scan of every note), keyed by borrowed names: a
    // `Decl` made per declaration to look one up was three allocations
    // a service.
    let mut by_decl: BTreeMap<(u8, &str), Vec<usize>> = BTreeMap::new();
    for (i, note) in notes.iter().enumerate() {
        by_decl.entry(note.on.index()).or_default().push(i);
    }
    let mut used = vec![false; notes.len()];
    let mut placed: Vec<Vec<&str>> = Vec::with_capacity(decls.len());
    let mut buf = String::new();
    for (decl, _) in &decls {
        let mut mine: Vec<usize> = Vec::new();
        if !by_decl.is_empty() {
            decl.each_index(&mut buf, |k| {
                if let Some(found) = by_decl.get(&k) {
                    mine.extend_from_slice(found);
                }
            });
        }
        mine.sort_unstable();
        debug_assert!(mine.iter().all(|&i| decl.matches(&notes[i].on)));
        for &i in &mine {
            used[i] = true;
        }
        placed.push(mine.iter().map(|&i| notes[i].text.as_str()).collect());
    }
    let mut out = String::new();
    let orphans: Vec<&str> = notes
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(n, _)| n.text.as_str())
        .collect();
    if !orphans.is_empty() {
        comments(&mut out, &orphans, syntax);
    }
    for ((_, node), mine) in decls.iter().zip(&placed) {
        if !out.is_empty() {
            out.push('\n');
        }
        comments(&mut out, mine, syntax);
        match syntax {
            Syntax::Kdl => kdl_text::node(&mut out, node, 0),
            Syntax::Toml => toml_text::table(&mut out, node),
        }
    }
    out
}

impl Decl {
    /// Its kind and name, the key notes are found by.
    fn index(&self) -> (u8, &str) {
        match self {
            Decl::Mesh => (0, ""),
            Decl::Network(a) => (1, a),
            Decl::Cluster(a) => (2, a),
            Decl::Vm(a) => (3, a),
            Decl::Namespace(a) => (4, a),
            Decl::Service(a) => (5, a),
        }
    }
}

/// What a declaration is, to match notes against (names borrowed from
/// the topology).
enum Key<'t> {
    Mesh,
    Network(&'t str),
    Cluster(&'t str),
    Vm(&'t str),
    Namespace(&'t str),
    Service { name: &'t str, namespace: &'t str },
}

impl Key<'_> {
    /// Hands `f` the [`Decl::index`] of every `Decl` that [`Key::matches`]
    /// (a service's: its name, and its name with its namespace, written
    /// into `buf`).
    fn each_index(&self, buf: &mut String, mut f: impl FnMut((u8, &str))) {
        match *self {
            Key::Mesh => f((0, "")),
            Key::Network(a) => f((1, a)),
            Key::Cluster(a) => f((2, a)),
            Key::Vm(a) => f((3, a)),
            Key::Namespace(a) => f((4, a)),
            Key::Service { name, namespace } => {
                f((5, name));
                buf.clear();
                buf.push_str(name);
                buf.push('.');
                buf.push_str(namespace);
                f((5, buf));
            }
        }
    }

    fn matches(&self, on: &Decl) -> bool {
        match (self, on) {
            (Key::Mesh, Decl::Mesh) => true,
            (Key::Network(a), Decl::Network(b))
            | (Key::Cluster(a), Decl::Cluster(b))
            | (Key::Vm(a), Decl::Vm(b))
            | (Key::Namespace(a), Decl::Namespace(b)) => a == b,
            (Key::Service { name, namespace }, Decl::Service(b)) => {
                b == name
                    || b.strip_prefix(name)
                        .and_then(|rest| rest.strip_prefix('.'))
                        .is_some_and(|ns| ns == *namespace)
            }
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------
// The tree both syntaxes print.

/// A value as the language writes it.
#[derive(Clone, Debug)]
enum Val {
    Str(String),
    Int(u64),
    Bool(bool),
}

/// A string value. `&str`, not `impl ToString`: `to_string` of a
/// `&String` goes through `Display` and the formatter (about 200
/// instructions a value, over 100k values at 10k services).
fn s(v: &str) -> Val {
    Val::Str(v.to_owned())
}

/// A value written as it displays (addresses, ranges, releases).
fn shown(v: impl std::fmt::Display) -> Val {
    Val::Str(v.to_string())
}

/// One node: `name ARG… key=value… { child… }` in KDL, a table in TOML.
struct Node {
    shape: &'static Shape,
    /// Positional arguments, each with the setting it fills (TOML's key).
    args: Vec<(&'static str, Val)>,
    props: Vec<(&'static str, Val)>,
    children: Vec<Child>,
}

enum Child {
    /// A setting on a line of its own: `name value…`.
    Setting(&'static str, Vec<Val>),
    /// A block (`port`, `deploy`, `ilb`, …).
    Block(Node),
    /// `labels key=value…`, keys as written.
    Labels(Vec<(String, String)>),
}

/// The table's name for a setting (or positional argument) of `shape`:
/// the printer names nothing the table does not define.
fn key(shape: &'static Shape, name: &'static str) -> &'static str {
    let found = shape.setting(name).map(|s| s.name);
    debug_assert!(
        found.is_some(),
        "the printer writes `{name}`, which `{}` does not define in lower/language.rs",
        shape.what
    );
    found.unwrap_or(name)
}

/// The table's name for a block of `shape`.
fn block(shape: &'static Shape, name: &'static str) -> &'static str {
    let found = shape.block(name).map(|b| b.name);
    debug_assert!(
        found.is_some(),
        "the printer writes block `{name}`, which `{}` does not define in lower/language.rs",
        shape.what
    );
    found.unwrap_or(name)
}

/// The top-level block name of a shape (`service`).
fn top(shape: &'static Shape) -> &'static str {
    language::TOP
        .iter()
        .find(|b| std::ptr::eq(b.shape, shape))
        .map_or(shape.what, |b| b.name)
}

impl Node {
    fn new(shape: &'static Shape) -> Node {
        Node {
            shape,
            args: Vec::new(),
            props: Vec::new(),
            children: Vec::new(),
        }
    }

    fn arg(mut self, name: &'static str, v: Val) -> Node {
        self.args.push((key(self.shape, name), v));
        self
    }

    fn prop(&mut self, name: &'static str, v: Option<Val>) {
        if let Some(v) = v {
            self.props.push((key(self.shape, name), v));
        }
    }

    fn set(&mut self, name: &'static str, v: Option<Val>) {
        if let Some(v) = v {
            self.children.push(Child::Setting(key(self.shape, name), vec![v]));
        }
    }

    fn list(&mut self, name: &'static str, vs: Vec<Val>) {
        if !vs.is_empty() {
            self.children.push(Child::Setting(key(self.shape, name), vs));
        }
    }

    fn allows(&mut self, allows: Vec<Val>) {
        self.list("allow", allows);
    }
}

/// Every top-level declaration, in print order, with its notes key.
fn declarations(t: &Topology) -> Vec<(Key<'_>, Node)> {
    // Each allow goes to the first declaration whose name it covers.
    let mut allow_taken = vec![false; t.allows.len()];
    let mut allows = |name: Span| -> Vec<Val> {
        let mut out = Vec::new();
        for (a, taken) in t.allows.iter().zip(allow_taken.iter_mut()) {
            if !*taken && covers(a, name) {
                *taken = true;
                out.push(s(&a.code.value));
            }
        }
        out
    };
    let mut out = Vec::new();

    let m = &t.mesh;
    let mut n = Node::new(&MESH).arg("name", s(&m.name.value));
    n.set("istio", Some(shown(m.istio.value)));
    n.set("trust-domain", m.trust_domain.as_ref().map(|v| s(&v.value)));
    n.set("mesh-id", m.mesh_id.as_ref().map(|v| s(&v.value)));
    n.set(
        "control-plane-namespace",
        m.control_plane_namespace.as_ref().map(|v| s(&v.value)),
    );
    n.set("revision", m.revision.as_ref().map(|v| s(&v.value)));
    n.set(
        "least-privilege",
        m.least_privilege.as_ref().map(|v| Val::Bool(v.value)),
    );
    n.set(
        "control-plane-auth",
        m.control_plane_auth.as_ref().map(|v| s(&v.value)),
    );
    n.set(
        "data-plane-mtls",
        m.data_plane_mtls.as_ref().map(|v| Val::Bool(v.value)),
    );
    for i in &m.ingresses {
        let mut b = Node::new(&INGRESS).arg("name", s(&i.name.value));
        b.prop("kind", i.kind.as_ref().map(|k| s(k.value.word())));
        b.prop("namespace", i.namespace.as_ref().map(|v| s(&v.value)));
        debug_assert_eq!(block(&MESH, "ingress"), INGRESS.what);
        n.children.push(Child::Block(b));
    }
    let a = allows(m.name.span);
    n.allows(a);
    out.push((Key::Mesh, n));

    for net in &t.networks {
        let mut n = Node::new(&NETWORK).arg("name", s(&net.name.value));
        n.list("cidr", net.cidrs.iter().map(|c| shown(c.value)).collect());
        n.set("gateway", net.gateway.as_ref().map(|g| shown(g.value)));
        let a = allows(net.name.span);
        n.allows(a);
        out.push((Key::Network(&net.name.value), n));
    }

    for c in &t.clusters {
        let mut n = Node::new(&CLUSTER).arg("name", s(&c.name.value));
        n.set("network", Some(s(&c.network.value)));
        n.list("pod-cidr", c.pod_cidrs.iter().map(|v| shown(v.value)).collect());
        n.list(
            "service-cidr",
            c.service_cidrs.iter().map(|v| shown(v.value)).collect(),
        );
        n.set("cluster-domain", c.cluster_domain.as_ref().map(|v| s(&v.value)));
        n.set("kube-dns", c.kube_dns.as_ref().map(|v| shown(v.value)));
        n.set("cluster-id", c.cluster_id.as_ref().map(|v| s(&v.value)));
        n.set(
            "control-plane",
            c.control_plane.as_ref().map(|v| Val::Bool(v.value)),
        );
        n.set(
            "east-west-gateway",
            c.east_west_gateway.as_ref().map(|v| shown(v.value)),
        );
        if let Some(ilbs) = &c.ilbs {
            let mut b = Node::new(&ILB);
            b.prop("pilot", Some(shown(ilbs.pilot.value)));
            b.prop("mixer", Some(shown(ilbs.mixer.value)));
            b.prop("citadel", Some(shown(ilbs.citadel.value)));
            b.prop("kube-dns", Some(shown(ilbs.kube_dns.value)));
            debug_assert_eq!(block(&CLUSTER, "ilb"), ILB.what);
            n.children.push(Child::Block(b));
        }
        n.set(
            "ilb-annotation",
            c.ilb_annotation.as_ref().map(|v| s(v.value.word())),
        );
        let a = allows(c.name.span);
        n.allows(a);
        out.push((Key::Cluster(&c.name.value), n));
    }

    for vm in &t.vms {
        let mut n = Node::new(&VM).arg("name", s(&vm.name.value));
        n.set("address", Some(shown(vm.address.value)));
        n.set("network", Some(s(&vm.network.value)));
        n.set("cluster", vm.cluster.as_ref().map(|v| s(&v.value)));
        n.set("ssh", vm.ssh.as_ref().map(|v| s(&v.value)));
        n.set(
            "service-account",
            vm.service_account.as_ref().map(|v| s(&v.value)),
        );
        labels(&mut n, &VM, &vm.labels);
        n.set(
            "proxy-uid",
            vm.proxy_uid.as_ref().map(|v| Val::Int(v.value.into())),
        );
        n.set(
            "proxy-gid",
            vm.proxy_gid.as_ref().map(|v| Val::Int(v.value.into())),
        );
        n.set(
            "interception",
            vm.interception.as_ref().map(|v| s(v.value.word())),
        );
        n.set("dns", vm.dns.as_ref().map(|v| s(v.value.word())));
        n.list(
            "dns-server",
            vm.dns_servers.iter().map(|v| shown(v.value)).collect(),
        );
        n.set(
            "capture-all-dns",
            vm.capture_all_dns.as_ref().map(|v| Val::Bool(v.value)),
        );
        let ports = |v: &[crate::model::PortNumber]| v.iter().map(|p| Val::Int(p.value.into())).collect();
        n.list("inbound-exclude-ports", ports(&vm.inbound_exclude_ports));
        n.list("outbound-exclude-ports", ports(&vm.outbound_exclude_ports));
        n.list(
            "outbound-exclude-cidrs",
            vm.outbound_exclude_cidrs.iter().map(|v| shown(v.value)).collect(),
        );
        n.set(
            "autoregister",
            vm.autoregister.as_ref().map(|v| Val::Bool(v.value)),
        );
        let a = allows(vm.name.span);
        n.allows(a);
        out.push((Key::Vm(&vm.name.value), n));
    }

    for ns in &t.namespaces {
        let mut n = Node::new(&NAMESPACE).arg("name", s(&ns.name.value));
        n.set("injection", ns.injection.as_ref().map(|v| Val::Bool(v.value)));
        n.set(
            "least-privilege",
            ns.least_privilege.as_ref().map(|v| Val::Bool(v.value)),
        );
        labels(&mut n, &NAMESPACE, &ns.labels);
        let a = allows(ns.name.span);
        n.allows(a);
        out.push((Key::Namespace(&ns.name.value), n));
    }

    for svc in &t.services {
        let mut n = Node::new(&SERVICE).arg("name", s(&svc.name.value));
        // Lowering fills in `default`, at the name, when none is written.
        let implied = svc.namespace.value == "default" && svc.namespace.span == svc.name.span;
        n.prop("namespace", (!implied).then(|| s(&svc.namespace.value)));
        n.set(
            "service-account",
            svc.service_account.as_ref().map(|v| s(&v.value)),
        );
        for p in &svc.ports {
            let mut b = Node::new(&PORT)
                .arg("name", s(&p.name.value))
                .arg("number", Val::Int(p.number.value.into()));
            b.prop("protocol", p.protocol.as_ref().map(|v| s(v.value.word())));
            b.prop(
                "target-port",
                p.target_port.as_ref().map(|v| Val::Int(v.value.into())),
            );
            debug_assert_eq!(block(&SERVICE, "port"), PORT.what);
            n.children.push(Child::Block(b));
        }
        for d in &svc.deployments {
            let mut b = Node::new(&DEPLOY);
            for v in &d.versions {
                b = b.arg("version", s(&v.value));
            }
            match &d.placement {
                Placement::Cluster(c) => b.prop("cluster", Some(s(&c.value))),
                Placement::Vm(v) => b.prop("vm", Some(s(&v.value))),
            }
            b.prop("service-account", d.service_account.as_ref().map(|v| s(&v.value)));
            debug_assert_eq!(block(&SERVICE, "deploy"), DEPLOY.what);
            n.children.push(Child::Block(b));
        }
        for r in &svc.routes {
            let mut b = Node::new(&ROUTE).arg("version", s(&r.version.value));
            b.prop("weight", r.weight.as_ref().map(|v| Val::Int(v.value.into())));
            debug_assert_eq!(block(&SERVICE, "route"), ROUTE.what);
            n.children.push(Child::Block(b));
        }
        n.list("calls", svc.calls.iter().map(|c| s(&c.value)).collect());
        n.set(
            "registration",
            svc.registration.as_ref().map(|v| s(v.value.word())),
        );
        n.set(
            "entry-point",
            svc.entry_point.as_ref().map(|v| Val::Bool(v.value)),
        );
        if let Some(p) = &svc.probe {
            let word = |k: ProbeKindWord| s(k.word());
            let b = match &p.kind {
                ProbeKind::Http { port, path } => {
                    let mut b = Node::new(&PROBE).arg("kind", word(ProbeKindWord::Http));
                    b.prop("port", Some(Val::Int(port.value.into())));
                    b.prop("path", path.as_ref().map(|v| s(&v.value)));
                    b
                }
                ProbeKind::Tcp { port } => {
                    let mut b = Node::new(&PROBE).arg("kind", word(ProbeKindWord::Tcp));
                    b.prop("port", Some(Val::Int(port.value.into())));
                    b
                }
                ProbeKind::Exec { command } => {
                    // A property holds one value: the command is a child.
                    let mut b = Node::new(&PROBE).arg("kind", word(ProbeKindWord::Exec));
                    b.list("command", command.iter().map(|c| s(&c.value)).collect());
                    b
                }
            };
            debug_assert_eq!(block(&SERVICE, "probe"), PROBE.what);
            n.children.push(Child::Block(b));
        }
        let a = allows(svc.name.span);
        n.allows(a);
        out.push((
            Key::Service {
                name: &svc.name.value,
                namespace: &svc.namespace.value,
            },
            n,
        ));
    }
    out
}

/// Whether an allow's scope (its declaration, from first setting to last)
/// covers a declaration's name.
fn covers(a: &Allow, name: Span) -> bool {
    a.scope.start <= name.start && name.end <= a.scope.end
}

fn labels(n: &mut Node, shape: &'static Shape, labels: &crate::model::Labels) {
    if labels.0.is_empty() {
        return;
    }
    debug_assert_eq!(block(shape, "labels"), LABELS.what);
    n.children.push(Child::Labels(
        labels.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
    ));
}

// ---------------------------------------------------------------------
// Notes.

/// The note texts as comment lines (`// ` or `# `).
fn comments(out: &mut String, texts: &[&str], syntax: Syntax) {
    let marker = match syntax {
        Syntax::Kdl => "//",
        Syntax::Toml => "#",
    };
    for text in texts {
        for line in comment_lines(text) {
            out.push_str(marker);
            if !line.is_empty() {
                out.push(' ');
                out.push_str(&line);
            }
            out.push('\n');
        }
    }
}

/// A note's text as the lines of a comment: split at every newline KDL or
/// TOML knows (CR, LF, CRLF, NEL, VT, FF, LS, PS), each line with the
/// characters that could end, hide or reorder a comment written as
/// `\u{…}`, and without trailing spaces (the formatter drops them).
pub fn comment_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if chars::is_newline(c) {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            lines.push(std::mem::take(&mut line));
        } else if visible(c) {
            line.push(c);
        } else {
            line.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        }
    }
    lines.push(line);
    for l in &mut lines {
        let kept = l.trim_end_matches(' ').len();
        l.truncate(kept);
    }
    lines
}

/// Whether `c` may stand as itself in a comment or string: not a control
/// character, not a space other than U+0020, not a character that KDL
/// forbids or that reorders or hides text (bidi controls, zero-width
/// characters, the byte-order mark).
fn visible(c: char) -> bool {
    !(c.is_control()
        || (c.is_whitespace() && c != ' ')
        || chars::is_disallowed(c)
        || chars::is_newline(c)
        || matches!(
            c,
            '\u{ad}' | '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        ))
}

// ---------------------------------------------------------------------
// KDL.

mod kdl_text {
    use super::{Child, Node, Val, top};
    use crate::syntax::format::string;

    const INDENT: &str = "    ";

    fn val(out: &mut String, v: &Val) {
        match v {
            Val::Str(s) => out.push_str(&string(s)),
            Val::Int(i) => out.push_str(&i.to_string()),
            Val::Bool(true) => out.push_str("#true"),
            Val::Bool(false) => out.push_str("#false"),
        }
    }

    fn indent(out: &mut String, depth: usize) {
        for _ in 0..depth {
            out.push_str(INDENT);
        }
    }

    /// A node and its block, at `depth`; the top level names it by the
    /// table's top-level block.
    pub(super) fn node(out: &mut String, n: &Node, depth: usize) {
        indent(out, depth);
        out.push_str(if depth == 0 { top(n.shape) } else { n.shape.what });
        for (_, v) in &n.args {
            out.push(' ');
            val(out, v);
        }
        for (k, v) in &n.props {
            out.push(' ');
            out.push_str(&string(k));
            out.push('=');
            val(out, v);
        }
        if !n.children.is_empty() {
            out.push_str(" {\n");
            for c in &n.children {
                match c {
                    Child::Setting(name, vs) => {
                        indent(out, depth + 1);
                        out.push_str(name);
                        for v in vs {
                            out.push(' ');
                            val(out, v);
                        }
                        out.push('\n');
                    }
                    Child::Block(b) => node(out, b, depth + 1),
                    Child::Labels(kv) => {
                        indent(out, depth + 1);
                        out.push_str(super::LABELS.what);
                        for (k, v) in kv {
                            out.push(' ');
                            out.push_str(&string(k));
                            out.push('=');
                            out.push_str(&string(v));
                        }
                        out.push('\n');
                    }
                }
            }
            indent(out, depth);
            out.push('}');
        }
        out.push('\n');
    }
}

// ---------------------------------------------------------------------
// TOML.

mod toml_text {
    use super::{Child, Node, Val, top, visible};

    /// `[mesh]` or `[[service]]` and its keys, one a line; blocks become
    /// inline tables, repeated blocks arrays of them.
    pub(super) fn table(out: &mut String, n: &Node) {
        let name = top(n.shape);
        let repeated = crate::lower::language::TOP
            .iter()
            .find(|b| b.name == name)
            .is_some_and(|b| b.repeated);
        if repeated {
            out.push_str(&format!("[[{}]]\n", key(name)));
        } else {
            out.push_str(&format!("[{}]\n", key(name)));
        }
        for (k, v) in fields(n) {
            out.push_str(&key(k));
            out.push_str(" = ");
            out.push_str(&v);
            out.push('\n');
        }
    }

    /// The key = value pairs of a node, values already written.
    fn fields(n: &Node) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = Vec::new();
        // Positional arguments: a list setting (`deploy`'s versions) takes
        // all of its own as one array.
        let mut i = 0;
        while i < n.args.len() {
            let k = n.args[i].0;
            let mut vs = Vec::new();
            while i < n.args.len() && n.args[i].0 == k {
                vs.push(val(&n.args[i].1));
                i += 1;
            }
            let list = n.shape.setting(k).is_some_and(|s| s.list);
            out.push((k, if list { array(&vs) } else { vs.concat() }));
        }
        for (k, v) in &n.props {
            out.push((k, val(v)));
        }
        let mut c = 0;
        while c < n.children.len() {
            match &n.children[c] {
                Child::Setting(k, vs) => {
                    let vs: Vec<String> = vs.iter().map(val).collect();
                    let list = n.shape.setting(k).is_some_and(|s| s.list);
                    out.push((k, if list { array(&vs) } else { vs.concat() }));
                    c += 1;
                }
                Child::Labels(kv) => {
                    let pairs: Vec<String> = kv
                        .iter()
                        .map(|(k, v)| format!("{} = {}", key(k), string(v)))
                        .collect();
                    out.push((super::LABELS.what, inline(&pairs)));
                    c += 1;
                }
                Child::Block(b) => {
                    let name = b.shape.what;
                    let repeated = n.shape.block(name).is_some_and(|spec| spec.repeated);
                    if repeated {
                        let mut items = Vec::new();
                        while let Some(Child::Block(b)) = n
                            .children
                            .get(c)
                            .filter(|ch| matches!(ch, Child::Block(x) if x.shape.what == name))
                        {
                            items.push(inline_node(b));
                            c += 1;
                        }
                        out.push((name, multi_line_array(&items)));
                    } else {
                        out.push((name, inline_node(b)));
                        c += 1;
                    }
                }
            }
        }
        out
    }

    fn inline_node(n: &Node) -> String {
        let pairs: Vec<String> = fields(n)
            .into_iter()
            .map(|(k, v)| format!("{} = {v}", key(k)))
            .collect();
        inline(&pairs)
    }

    fn inline(pairs: &[String]) -> String {
        if pairs.is_empty() {
            "{}".to_owned()
        } else {
            format!("{{ {} }}", pairs.join(", "))
        }
    }

    fn array(items: &[String]) -> String {
        format!("[{}]", items.join(", "))
    }

    /// One item on the key's line; several, one a line.
    fn multi_line_array(items: &[String]) -> String {
        if items.len() <= 1 {
            return array(items);
        }
        let mut out = String::from("[\n");
        for i in items {
            out.push_str("    ");
            out.push_str(i);
            out.push_str(",\n");
        }
        out.push(']');
        out
    }

    fn val(v: &Val) -> String {
        match v {
            Val::Str(s) => string(s),
            Val::Int(i) => i.to_string(),
            Val::Bool(b) => b.to_string(),
        }
    }

    /// A bare key where TOML allows one, otherwise a quoted one.
    pub(super) fn key(k: &str) -> String {
        if !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            k.to_owned()
        } else {
            string(k)
        }
    }

    /// A TOML basic string that reads back as `s`: `\"`, `\\`, the short
    /// escapes, and `\uXXXX`/`\UXXXXXXXX` for every other character that is
    /// not plainly visible.
    pub(super) fn string(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if visible(c) => out.push(c),
                c if u32::from(c) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                c => out.push_str(&format!("\\U{:08X}", u32::from(c))),
            }
        }
        out.push('"');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_cannot_leave_its_comment() {
        assert_eq!(comment_lines("a\nb"), ["a", "b"]);
        assert_eq!(
            comment_lines("a\r\nb\rc\u{2028}d\u{85}e\u{b}f\u{c}g"),
            ["a", "b", "c", "d", "e", "f", "g"]
        );
        assert_eq!(comment_lines("x \u{202e}y\u{0}\t "), ["x \\u{202e}y\\u{0}\\u{9}"]);
        assert_eq!(comment_lines(""), [""]);
    }

    #[test]
    fn toml_strings_escape_what_is_not_plainly_visible() {
        assert_eq!(toml_text::string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(
            toml_text::string("\u{0}\u{202e}\u{1F600}\u{e0001}"),
            "\"\\u0000\\u202E\u{1F600}\\U000E0001\""
        );
        assert_eq!(toml_text::key("zone"), "zone");
        assert_eq!(
            toml_text::key("app.kubernetes.io/name"),
            "\"app.kubernetes.io/name\""
        );
        assert_eq!(toml_text::key(""), "\"\"");
    }
}
