//! `meshc plan`: what a change does to the mesh, for the reviewer of a pull
//! request, as `terraform plan` does for infrastructure.
//!
//! Pure: both sides arrive as plain data (generated path → contents), one
//! from a compile in memory, the other from the committed output directory
//! or an older topology compiled the same way; the CLI reads them. Nothing
//! here touches the filesystem, the clock or the environment.
//!
//! The comparison is by object, not by line. Each file is split into units:
//! a Kubernetes manifest into its objects, keyed by (kind, namespace, name);
//! every other file (VM bundle files, control-plane values, the runbook) is
//! one unit, keyed by its path. Units are grouped in scopes: a cluster
//! (`kubernetes/clusters/<cluster>/` and `control-plane/<cluster>/`), the
//! shared Istio configuration (`kubernetes/mesh/`, applied in every
//! control-plane cluster), a VM (`vms/<vm>/`), and the rest. Each unit is
//! added, changed or removed; a changed one lists the fields (or env keys,
//! or lines) that differ.
//!
//! Consequences are then derived from the old and new units (see
//! [`consequences`]): traffic shifted between versions, callers gaining or
//! losing a service, egress opened or closed, capture and DNS changed on a
//! VM, VMs to re-install (and how), control-plane values changed, and
//! objects `kubectl apply` will not delete.
//!
//! Everything is ordered (sorted maps, scopes in a fixed order), so the
//! same two sides always give the same plan, byte for byte, in every format.
//!
//! JSON output ([`render::json`]) is a stable interface: `changed` (bool),
//! `totals` (`added`, `changed`, `removed`), `scopes` (each `scope`: one of
//! `cluster`, `mesh`, `vm`, `other`; `name`; the three counts; `items`, each
//! with `change`, `kind`, `namespace`, `name`, `file`, `details`), and
//! `consequences` (each with `kind`, `text`, and the fields of its kind,
//! documented on [`Consequence`]).

pub mod consequences;
pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::artifact::Artifact;
pub use consequences::Consequence;

/// One side of the comparison: generated path → contents.
pub type Files = BTreeMap<String, String>;

/// The files of a build, as [`compare`] takes them.
pub fn files_of(artifacts: &[Artifact]) -> Files {
    artifacts
        .iter()
        .map(|a| (a.path.clone(), a.contents.clone()))
        .collect()
}

/// What a change does: every unit added, changed or removed, by scope, and
/// the consequences a reviewer must see.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Plan {
    /// False when the two sides are the same mesh.
    pub changed: bool,
    pub totals: Counts,
    /// Clusters (by name), the shared mesh configuration, VMs (by name), the
    /// rest; only scopes with a change.
    pub scopes: Vec<ScopePlan>,
    pub consequences: Vec<Consequence>,
}

/// How many units were added, changed and removed.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
}

impl Counts {
    fn count(&mut self, change: Change) {
        match change {
            Change::Added => self.added += 1,
            Change::Changed => self.changed += 1,
            Change::Removed => self.removed += 1,
        }
    }

    fn add(&mut self, other: Counts) {
        self.added += other.added;
        self.changed += other.changed;
        self.removed += other.removed;
    }
}

/// Where a unit belongs. The order of the variants is the order of the
/// report.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// One cluster's own objects and its control-plane values.
    Cluster(String),
    /// `kubernetes/mesh/`: applied in every control-plane cluster.
    Mesh,
    /// One VM's bundle.
    Vm(String),
    /// Everything else (runbook, Prometheus job).
    Other,
}

impl Scope {
    /// `cluster`, `mesh`, `vm` or `other`.
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Cluster(_) => "cluster",
            Scope::Mesh => "mesh",
            Scope::Vm(_) => "vm",
            Scope::Other => "other",
        }
    }

    /// The cluster's or VM's name; empty for the other two.
    pub fn name(&self) -> &str {
        match self {
            Scope::Cluster(n) | Scope::Vm(n) => n,
            Scope::Mesh | Scope::Other => "",
        }
    }

    /// How the report titles the scope.
    pub fn title(&self) -> String {
        match self {
            Scope::Cluster(n) => format!("cluster {n}"),
            Scope::Mesh => "mesh (every control-plane cluster)".to_owned(),
            Scope::Vm(n) => format!("vm {n}"),
            Scope::Other => "other files".to_owned(),
        }
    }
}

/// One scope's changes.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ScopePlan {
    #[serde(rename = "scope")]
    pub kind: &'static str,
    pub name: String,
    #[serde(skip)]
    pub scope: Scope,
    #[serde(flatten)]
    pub counts: Counts,
    /// Sorted by kind, namespace, name.
    pub items: Vec<Item>,
}

/// Added, changed or removed.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Changed,
    Removed,
}

impl Change {
    /// `+`, `~` or `-`.
    pub fn sign(self) -> char {
        match self {
            Change::Added => '+',
            Change::Changed => '~',
            Change::Removed => '-',
        }
    }
}

/// One object or file that differs.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Item {
    pub change: Change,
    /// The Kubernetes kind, or `file`.
    pub kind: String,
    /// The object's namespace; empty for a file or a cluster-wide object.
    pub namespace: String,
    /// The object's name, or the file's path.
    pub name: String,
    /// The file it is in (the new side's, unless removed).
    pub file: String,
    /// For a changed unit: what differs (`spec.ports[0].port: 9080 → 9081`,
    /// `KEY: old → new`, `+2 -1 lines`).
    pub details: Vec<String>,
}

impl Item {
    /// `Kind namespace/name`, `Kind name`, or the file's path.
    pub fn label(&self) -> String {
        match (self.kind.as_str(), self.namespace.as_str()) {
            ("file", _) => self.name.clone(),
            (kind, "") => format!("{kind} {}", self.name),
            (kind, ns) => format!("{kind} {ns}/{}", self.name),
        }
    }
}

/// Key of a unit inside its scope: (kind, namespace, name).
pub(crate) type UnitKey = (String, String, String);

/// A unit's contents, as compared.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Body {
    /// A Kubernetes object (comments and layout gone).
    Object(Value),
    /// A file's text, without meshc's `Code generated … from NAME` line
    /// (which names the topology file, not the mesh).
    Text(String),
}

#[derive(Clone, Debug)]
pub(crate) struct Unit {
    pub file: String,
    pub body: Body,
}

/// Every unit of one side, by scope and key.
pub(crate) type Units = BTreeMap<Scope, BTreeMap<UnitKey, Unit>>;

/// The scope a generated path belongs to.
fn scope_of(path: &str) -> Scope {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["kubernetes", "clusters", cluster, _, ..] | ["control-plane", cluster, _, ..] => {
            Scope::Cluster((*cluster).to_owned())
        }
        ["kubernetes", "mesh", ..] => Scope::Mesh,
        ["vms", vm, _, ..] => Scope::Vm((*vm).to_owned()),
        _ => Scope::Other,
    }
}

/// Drops the header line that names the topology file, so a base compiled
/// from `old.kdl` compares equal to the same mesh from `topology.kdl`.
fn normalise(text: &str) -> String {
    text.lines()
        .filter(|l| !(l.contains("Code generated by meshc from ") && l.contains("DO NOT EDIT")))
        .flat_map(|l| [l, "\n"])
        .collect()
}

/// The Kubernetes objects of a manifest, or `None` when it is not one (a
/// hand-edited file that no longer parses is compared as text).
fn objects(text: &str) -> Option<Vec<(UnitKey, Value)>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).ok()?;
    let mut out = Vec::new();
    for doc in docs {
        if doc.is_null() {
            continue;
        }
        let kind = doc.get("kind")?.as_str()?.to_owned();
        let meta = doc.get("metadata")?;
        let name = meta.get("name")?.as_str()?.to_owned();
        let ns = meta
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        out.push(((kind, ns, name), doc));
    }
    Some(out)
}

/// Splits one side into units.
pub(crate) fn units(files: &Files) -> Units {
    let mut out: Units = BTreeMap::new();
    for (path, text) in files {
        let scope = scope_of(path);
        let manifest = path.starts_with("kubernetes/") && path.ends_with(".yaml");
        let parsed = if manifest { objects(text) } else { None };
        let slot = out.entry(scope).or_default();
        match parsed {
            Some(objects) => {
                for (key, value) in objects {
                    slot.insert(
                        key,
                        Unit {
                            file: path.clone(),
                            body: Body::Object(value),
                        },
                    );
                }
            }
            None => {
                slot.insert(
                    ("file".to_owned(), String::new(), path.clone()),
                    Unit {
                        file: path.clone(),
                        body: Body::Text(normalise(text)),
                    },
                );
            }
        }
    }
    out
}

/// Compares two sides: `old` is the base, `new` the change under review.
pub fn compare(old: &Files, new: &Files) -> Plan {
    let old_units = units(old);
    let new_units = units(new);
    let empty = BTreeMap::new();
    let scopes: BTreeSet<&Scope> = old_units.keys().chain(new_units.keys()).collect();
    let mut plans = Vec::new();
    let mut totals = Counts::default();
    for scope in scopes {
        let before = old_units.get(scope).unwrap_or(&empty);
        let after = new_units.get(scope).unwrap_or(&empty);
        let keys: BTreeSet<&UnitKey> = before.keys().chain(after.keys()).collect();
        let mut items = Vec::new();
        let mut counts = Counts::default();
        for key in keys {
            let (change, file, details) = match (before.get(key), after.get(key)) {
                (None, Some(n)) => (Change::Added, &n.file, Vec::new()),
                (Some(o), None) => (Change::Removed, &o.file, Vec::new()),
                (Some(o), Some(n)) if o.body != n.body => {
                    (Change::Changed, &n.file, details(&o.file, &o.body, &n.body))
                }
                _ => continue,
            };
            counts.count(change);
            items.push(Item {
                change,
                kind: key.0.clone(),
                namespace: key.1.clone(),
                name: key.2.clone(),
                file: file.clone(),
                details,
            });
        }
        if items.is_empty() {
            continue;
        }
        totals.add(counts);
        plans.push(ScopePlan {
            kind: scope.kind(),
            name: scope.name().to_owned(),
            scope: scope.clone(),
            counts,
            items,
        });
    }
    let consequences = consequences::derive(&old_units, &new_units);
    Plan {
        changed: !plans.is_empty(),
        totals,
        scopes: plans,
        consequences,
    }
}

/// At most this many details per changed unit: a rewritten file would
/// otherwise list every line.
const MAX_DETAILS: usize = 20;

/// What differs in a changed unit.
fn details(file: &str, old: &Body, new: &Body) -> Vec<String> {
    let mut out = match (old, new) {
        (Body::Object(o), Body::Object(n)) => field_changes(&flatten(o), &flatten(n)),
        (Body::Text(o), Body::Text(n)) if file.ends_with(".env") => {
            field_changes(&env_values(o), &env_values(n))
        }
        (Body::Text(o), Body::Text(n)) if file.ends_with(".yaml") => match (yaml_leaves(o), yaml_leaves(n)) {
            (Some(o), Some(n)) => field_changes(&o, &n),
            _ => vec![line_summary(o, n)],
        },
        (Body::Text(o), Body::Text(n)) => vec![line_summary(o, n)],
        _ => vec!["rewritten".to_owned()],
    };
    if out.len() > MAX_DETAILS {
        let more = out.len() - MAX_DETAILS;
        out.truncate(MAX_DETAILS);
        out.push(format!("… and {more} more"));
    }
    out
}

/// The value [`flatten`] gives each member of a list of plain values.
const MEMBER: &str = "\u{0}member";

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Array(_) | Value::Object(_))
}

/// `key: old → new` for each key whose value differs (`(none)` for absent);
/// `list: + member` / `list: - member` for a member of a list of plain
/// values.
pub(crate) fn field_changes(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<String> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (o, n) = (old.get(k), new.get(k));
            (o != n).then(|| describe(k, o, n))
        })
        .collect()
}

/// One changed leaf of [`flatten`]: `key: old → new`, or `list: + member`
/// / `list: - member`.
pub(crate) fn describe(key: &str, old: Option<&String>, new: Option<&String>) -> String {
    let member = |v: Option<&String>| v.is_some_and(|v| v == MEMBER);
    let split = || {
        key.rsplit_once('[')
            .map(|(list, m)| (list, m.strip_suffix(']').unwrap_or(m)))
    };
    match (member(old), member(new), split()) {
        (false, true, Some((list, m))) if old.is_none() => format!("{list}: + {m}"),
        (true, false, Some((list, m))) if new.is_none() => format!("{list}: - {m}"),
        _ => format!("{key}: {} → {}", shown(old), shown(new)),
    }
}

/// A leaf value of [`flatten`] as data: the member itself for a member of
/// a list of plain values (whose key ends in `[member]`).
pub(crate) fn leaf_value(key: &str, value: Option<&String>) -> Option<String> {
    let value = value?;
    if value != MEMBER {
        return Some(value.clone());
    }
    let member = key.rsplit_once('[').map_or(key, |(_, m)| m);
    Some(member.strip_suffix(']').unwrap_or(member).to_owned())
}

/// A value for a detail line: `(none)` when absent, `""` when empty.
pub(crate) fn shown(v: Option<&String>) -> String {
    match v.map(String::as_str) {
        None => "(none)".to_owned(),
        Some("") => "\"\"".to_owned(),
        Some(v) => v.to_owned(),
    }
}

/// `+N -M lines`.
fn line_summary(old: &str, new: &str) -> String {
    let (mut plus, mut minus) = (0, 0);
    for change in similar::TextDiff::from_lines(old, new).iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => plus += 1,
            similar::ChangeTag::Delete => minus += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    format!("+{plus} -{minus} lines")
}

/// Leaf values of a YAML file by dotted path, `None` when it is not YAML.
fn yaml_leaves(text: &str) -> Option<BTreeMap<String, String>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).ok()?;
    let mut out = BTreeMap::new();
    for (i, doc) in docs.iter().enumerate() {
        let prefix = if docs.len() > 1 {
            format!("[{i}]")
        } else {
            String::new()
        };
        flatten_into(&prefix, doc, &mut out);
    }
    Some(out)
}

/// Leaf values of a JSON tree by dotted path (`spec.ports[0].port`).
pub(crate) fn flatten(value: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten_into("", value, &mut out);
    out
}

fn flatten_into(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_into(&path, v, out);
            }
        }
        // A list of plain values (principals, hosts, CIDRs) is a set to a
        // reader: each member is a leaf of its own, so adding one shows as
        // that member added, not as every later index changed.
        Value::Array(items) if !items.is_empty() && items.iter().all(is_scalar) => {
            for v in items {
                let member = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                out.insert(format!("{prefix}[{member}]"), MEMBER.to_owned());
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten_into(&format!("{prefix}[{i}]"), v, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// The `KEY=value` assignments of an env file (`cluster.env`,
/// `sidecar.env`), with shell quoting undone; comments and other lines are
/// skipped.
pub(crate) fn env_values(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let is_name = !key.is_empty()
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !key.starts_with(|c: char| c.is_ascii_digit());
        if is_name {
            out.insert(key.to_owned(), unquote(value));
        }
    }
    out
}

/// Undoes POSIX shell quoting of one word: `'…'` literal, `"…"` literal
/// (meshc writes only `"'"` there), anything else as is.
fn unquote(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                for inner in chars.by_ref() {
                    if inner == c {
                        break;
                    }
                    out.push(inner);
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoting_undoes_meshcs_quoting() {
        use crate::emit::vm::quote::{posix_single_quote, quote_unless_plain};
        for value in ["plain", "", "it's", "a b", "'\"'", "{\"a\":1}", "x\\y"] {
            assert_eq!(unquote(&posix_single_quote(value)), value);
            assert_eq!(unquote(&quote_unless_plain(value)), value);
        }
    }

    #[test]
    fn scopes_follow_the_output_layout() {
        assert_eq!(
            scope_of("kubernetes/clusters/east/shop/service-a.yaml"),
            Scope::Cluster("east".into())
        );
        assert_eq!(
            scope_of("control-plane/east/istiod-values.yaml"),
            Scope::Cluster("east".into())
        );
        assert_eq!(scope_of("kubernetes/mesh/shop/service-a.yaml"), Scope::Mesh);
        assert_eq!(scope_of("vms/db/cluster.env"), Scope::Vm("db".into()));
        assert_eq!(scope_of("RUNBOOK.md"), Scope::Other);
        assert_eq!(scope_of("vms"), Scope::Other);
    }

    #[test]
    fn the_generated_header_does_not_count_as_a_change() {
        let old = Files::from([(
            "RUNBOOK.md".into(),
            "<!-- Code generated by meshc from old.kdl; DO NOT EDIT. -->\nx\n".into(),
        )]);
        let new = Files::from([(
            "RUNBOOK.md".into(),
            "<!-- Code generated by meshc from topology.kdl; DO NOT EDIT. -->\nx\n".into(),
        )]);
        assert!(!compare(&old, &new).changed);
        let newer = Files::from([("RUNBOOK.md".into(), "y\n".into())]);
        assert!(compare(&old, &newer).changed);
    }
}
