//! The catalogue of diagnostic codes.
//!
//! A code is declared once, with `declare_code!`, next to the code that
//! raises it: the front-end codes below, and one per rule in `check/`. The
//! doc comment of the declaration is the long documentation that
//! `meshc explain CODE` prints, so it is written for users: what the code
//! means, why it matters, and an example.
//!
//! Codes are stable: once released, a code keeps its meaning. Numbering:
//! `E0xx` the output directory (`build --check`), `E1xx` input and syntax,
//! `E2xx` shape of the topology, `E3xx` references,
//! `E4xx` names, `E5xx` addresses, `E6xx` ports, `E7xx` reachability and
//! routing, `E8xx` Istio flow; `W9xx` are warnings.

use serde::Serialize;

/// How bad a finding is. Errors fail `check` and stop `build`; warnings are
/// reported and fail only under `--deny-warnings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A diagnostic code and its documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Code {
    /// The stable code, e.g. `E301`.
    pub code: &'static str,
    /// A short kebab-case name, e.g. `unknown-reference`.
    pub name: &'static str,
    pub severity: Severity,
    /// One line, lower case, no final period.
    pub summary: &'static str,
    /// The long documentation (Markdown), from the declaration's doc comment.
    pub doc: &'static str,
}

impl Code {
    /// The documentation with the one leading space that `///` leaves on
    /// every line removed.
    pub fn doc_text(&self) -> String {
        let mut out = String::new();
        for line in self.doc.lines() {
            out.push_str(line.strip_prefix(' ').unwrap_or(line));
            out.push('\n');
        }
        out
    }
}

/// Declares a `static` [`Code`] whose long documentation is the doc comment.
#[macro_export]
macro_rules! declare_code {
    (
        $(#[doc = $doc:expr])*
        $vis:vis static $ident:ident = $code:literal, $severity:ident, $name:literal, $summary:literal;
    ) => {
        $(#[doc = $doc])*
        $vis static $ident: $crate::diagnostic::Code = $crate::diagnostic::Code {
            code: $code,
            name: $name,
            severity: $crate::diagnostic::Severity::$severity,
            summary: $summary,
            doc: concat!($($doc, "\n"),*),
        };
    };
}

declare_code! {
    /// The file is not valid KDL v2.
    ///
    /// meshc reads topologies written in KDL v2 (`.kdl`). The parser's own
    /// message says what it expected. Common causes: an unclosed `{`, a
    /// string without its closing quote, or KDL v1 syntax such as `true`
    /// instead of `#true`.
    ///
    /// ```kdl
    /// cluster prod {        // <- never closed
    ///     network vpc
    /// ```
    pub static KDL_SYNTAX = "E101", Error, "kdl-syntax", "the file is not valid KDL v2";
}

declare_code! {
    /// The file is not valid TOML.
    ///
    /// meshc reads the TOML form of a topology (`.toml`) with the same
    /// schema as the KDL form. The parser's message says what it expected.
    ///
    /// ```toml
    /// [mesh
    /// name = "bookinfo"
    /// ```
    pub static TOML_SYNTAX = "E102", Error, "toml-syntax", "the file is not valid TOML";
}

declare_code! {
    /// An IP address, CIDR or version number is written without quotes.
    ///
    /// In KDL v2 a bare word cannot start with a digit, so `10.0.0.1`,
    /// `10.0.0.0/8` or `1.24` are not strings and the file does not parse.
    /// Quote them.
    ///
    /// ```kdl
    /// vm db { address 192.168.3.202 }      // error
    /// vm db { address "192.168.3.202" }    // fine
    /// ```
    pub static UNQUOTED_ADDRESS = "E103", Error, "unquoted-address", "an IP address, CIDR or version must be quoted in KDL";
}

declare_code! {
    /// The file is not text meshc can read: it is not UTF-8, contains a NUL
    /// byte, or is larger than the input limit.
    ///
    /// Topologies are UTF-8 text. A UTF-8 byte-order mark and CRLF line
    /// endings are accepted. The default size limit is 64 MiB
    /// (`--max-input-size` changes it).
    pub static UNREADABLE_INPUT = "E104", Error, "unreadable-input", "the input is not UTF-8 text within the size limit";
}

declare_code! {
    /// The topology nests deeper, or has more nodes, than meshc accepts.
    ///
    /// A topology is a shallow document (at most a few levels). meshc
    /// refuses documents nested more than 64 levels or with more than
    /// 2,000,000 nodes, so a hostile file cannot exhaust memory or stack.
    pub static INPUT_LIMIT = "E105", Error, "input-limit", "the document is nested too deeply or has too many nodes";
}

declare_code! {
    /// A node name meshc does not know.
    ///
    /// Each level of the topology accepts a fixed set of nodes (at the top:
    /// `mesh`, `network`, `cluster`, `vm`, `namespace`, `service`; inside a
    /// service: `port`, `deploy`, `route`, `probe`). A misspelt name is
    /// reported with the closest known one. A misspelt one-line setting
    /// such as `netwrok vpc` is E202 instead.
    ///
    /// ```kdl
    /// servce details { }   // did you mean `service`?
    /// ```
    pub static UNKNOWN_NODE = "E201", Error, "unknown-node", "unknown node name";
}

declare_code! {
    /// A setting meshc does not know for this node.
    ///
    /// Settings can be written as properties (`network=vpc`) or as child
    /// nodes (`network vpc`); either way the name must be one the node
    /// accepts. A misspelt name is reported with the closest known one.
    ///
    /// ```kdl
    /// cluster prod { netwrok vpc }   // did you mean `network`?
    /// ```
    pub static UNKNOWN_SETTING = "E202", Error, "unknown-setting", "unknown setting for this node";
}

declare_code! {
    /// A required setting is missing.
    ///
    /// For example every cluster needs a `network`, and every service port
    /// needs a name and a number.
    ///
    /// ```kdl
    /// vm db { network vpc }   // missing `address`
    /// ```
    pub static MISSING_VALUE = "E203", Error, "missing-value", "a required setting is missing";
}

declare_code! {
    /// A value has the wrong type, or a choice is not one of the allowed ones.
    ///
    /// Ports are integers, flags are `#true`/`#false`, names and addresses
    /// are strings, and settings such as `interception` accept a fixed set
    /// of words.
    ///
    /// ```kdl
    /// port http "9080"          // a port number is an integer: 9080
    /// vm db { dns bind }        // dns is one of: capture, dnsmasq, hosts
    /// ```
    pub static INVALID_VALUE = "E204", Error, "invalid-value", "a value has the wrong type or is not an allowed choice";
}

declare_code! {
    /// The same setting is given twice on one node.
    ///
    /// A setting written both as a property and as a child node, or twice
    /// as a child, is ambiguous; meshc refuses to guess which one wins.
    ///
    /// ```kdl
    /// vm db network=a { network b }
    /// ```
    pub static DUPLICATE_SETTING = "E205", Error, "duplicate-setting", "a setting is given more than once";
}

declare_code! {
    /// A node has more positional arguments than it takes.
    ///
    /// ```kdl
    /// network vpc extra { }   // `network` takes one name
    /// ```
    pub static EXTRA_ARGUMENT = "E206", Error, "extra-argument", "too many arguments";
}

declare_code! {
    /// A number is outside its allowed range.
    ///
    /// Ports are 1–65535, uids and gids 0–4294967295, route weights 0–100.
    ///
    /// ```kdl
    /// port http 0
    /// ```
    pub static OUT_OF_RANGE = "E207", Error, "out-of-range", "a number is outside its allowed range";
}

declare_code! {
    /// The topology has no `mesh` node, or more than one.
    ///
    /// The `mesh` node names the mesh and the Istio version, which decides
    /// every artifact meshc emits; there must be exactly one.
    ///
    /// ```kdl
    /// mesh bookinfo { istio "1.24" }
    /// ```
    pub static MESH_COUNT = "E208", Error, "mesh-count", "there must be exactly one `mesh` node";
}

declare_code! {
    /// An IP address or CIDR does not parse.
    ///
    /// Addresses are IPv4 (`192.168.3.201`) or IPv6 (`fd00::1`) without a
    /// zone id or port. CIDRs are `address/prefix` with the host bits zero
    /// (`10.0.0.0/8`, not `10.0.0.1/8`).
    ///
    /// ```kdl
    /// network vpc { cidr "192.168.0.0/33" }
    /// ```
    pub static INVALID_ADDRESS = "E501", Error, "invalid-address", "malformed IP address or CIDR";
}

/// The codes raised before `check`: syntax and the shape of the topology.
pub static FRONT_END: &[&Code] = &[
    &KDL_SYNTAX,
    &TOML_SYNTAX,
    &UNQUOTED_ADDRESS,
    &UNREADABLE_INPUT,
    &INPUT_LIMIT,
    &UNKNOWN_NODE,
    &UNKNOWN_SETTING,
    &MISSING_VALUE,
    &INVALID_VALUE,
    &DUPLICATE_SETTING,
    &EXTRA_ARGUMENT,
    &OUT_OF_RANGE,
    &MESH_COUNT,
    &INVALID_ADDRESS,
    &super::stale::OUTPUT_STALE,
    &crate::check::allow::INVALID_ALLOW,
    &crate::check::allow::UNUSED_ALLOW,
];
