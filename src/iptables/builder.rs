//! The rule list and its two renderings, after Istio's `IptablesRuleBuilder`.
//!
//! A rule is written as iptables reads it (`"-p tcp --dport 53 -j RETURN"`)
//! and split into its whitespace-separated words, as Istio keeps them; it is
//! stored as those words joined by single spaces, so only a setting that
//! itself holds whitespace (which iptables would reject anyway) prints
//! differently from Istio. Rules are collected per address family in the
//! order they are added; the order of the output is then fixed by the
//! rendering:
//!
//! * command form (1.13–1.23): first `-t T -N C` for every non-built-in
//!   chain, in order of first use, then every rule as added, tables mixed;
//! * restore form (1.24+): tables in byte order, each `* T`, its `-N` lines
//!   (order of first use, then chains that are only jumped to), its rules as
//!   added, `COMMIT`; a table without rules is left out.
//!
//! Rendering goes through sorted maps and sets only, so the output depends on
//! nothing but the order of the calls.

use std::collections::{BTreeMap, BTreeSet};

use super::ruleset::{self, Ruleset};

/// Names that never get a `-N`: the built-in chains, and (in the restore
/// form's jump-target pass) the built-in targets that end a rule.
const BUILT_IN: [&str; 8] = [
    "INPUT",
    "OUTPUT",
    "FORWARD",
    "PREROUTING",
    "POSTROUTING",
    "ACCEPT",
    "RETURN",
    "DROP",
];

/// IPv4 (`iptables`) or IPv6 (`ip6tables`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    fn binary(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }
}

/// The trace-log prefix of a rule that 1.23's `--iptables-trace-logging`
/// precedes with an NFLOG rule (Istio's `iptableslog.Command`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Log {
    JumpInbound,
    JumpOutbound,
    ExcludeInboundPort,
    IncludeInboundPort,
    InboundCapture,
    Kubevirt,
    ExcludeInterface,
}

impl Log {
    /// The prefix as Go's `%q` prints it (1.23), quotes included, or bare
    /// (1.24, which dropped the `%q`).
    fn prefix(self, quoted: bool) -> &'static str {
        let quoted_prefix = match self {
            Log::JumpInbound => "\"JumpInbound\"",
            Log::JumpOutbound => "\"JumpOutbound\"",
            Log::ExcludeInboundPort => "\"ExcludeInboundPort\"",
            Log::IncludeInboundPort => "\"IncludeInboundPort\"",
            Log::InboundCapture => "\"InboundCapture\"",
            Log::Kubevirt => "\"KubevirtCommand\"",
            Log::ExcludeInterface => "\"ExcludeInterfaceCommand\"",
        };
        if quoted {
            quoted_prefix
        } else {
            quoted_prefix.trim_matches('"')
        }
    }
}

/// One rule and its table.
#[derive(Clone, Debug)]
struct Rule {
    table: String,
    rule: ruleset::Rule,
}

/// Which families a rule is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Families {
    Both,
    V4,
    V6,
}

/// Append to the chain, or insert at a 1-based position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Append,
    Insert(u32),
}

/// Rules for both families, in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct RuleBuilder {
    v4: Vec<Rule>,
    v6: Vec<Rule>,
    ipv6: bool,
    trace: bool,
    /// Trace-log prefixes are written bare (1.24) rather than quoted (1.23).
    plain_prefixes: bool,
}

impl RuleBuilder {
    /// `ipv6`: keep IPv6 rules (otherwise they are dropped as added).
    /// `trace`: precede each [`traced`](Self::traced) rule by an NFLOG rule.
    pub(crate) fn new(ipv6: bool, trace: bool) -> Self {
        RuleBuilder {
            ipv6,
            trace,
            ..RuleBuilder::default()
        }
    }

    pub(crate) fn append(&mut self, table: &str, chain: &str, rule: &str) {
        self.push(Families::Both, None, Op::Append, table, chain, rule);
    }

    pub(crate) fn append_v4(&mut self, table: &str, chain: &str, rule: &str) {
        self.push(Families::V4, None, Op::Append, table, chain, rule);
    }

    pub(crate) fn append_v6(&mut self, table: &str, chain: &str, rule: &str) {
        self.push(Families::V6, None, Op::Append, table, chain, rule);
    }

    /// Append to both families a rule that names the family's own address:
    /// `rule` gets `v4` for the IPv4 rule and `v6` for the IPv6 one.
    pub(crate) fn append_versioned(
        &mut self,
        table: &str,
        chain: &str,
        (v4, v6): (&str, &str),
        rule: impl Fn(&str) -> String,
    ) {
        self.append_v4(table, chain, &rule(v4));
        self.append_v6(table, chain, &rule(v6));
    }

    pub(crate) fn insert(&mut self, table: &str, chain: &str, at: u32, rule: &str) {
        self.push(Families::Both, None, Op::Insert(at), table, chain, rule);
    }

    pub(crate) fn insert_v4(&mut self, table: &str, chain: &str, at: u32, rule: &str) {
        self.push(Families::V4, None, Op::Insert(at), table, chain, rule);
    }

    pub(crate) fn insert_v6(&mut self, table: &str, chain: &str, at: u32, rule: &str) {
        self.push(Families::V6, None, Op::Insert(at), table, chain, rule);
    }

    /// Write trace-log prefixes bare, as 1.24 does (1.23 quoted them).
    pub(crate) fn plain_log_prefixes(mut self) -> Self {
        self.plain_prefixes = true;
        self
    }

    /// The same calls for a rule that trace logging watches.
    pub(crate) fn traced(&mut self, log: Log) -> Traced<'_> {
        Traced { builder: self, log }
    }

    fn push(&mut self, families: Families, log: Option<Log>, op: Op, table: &str, chain: &str, rule: &str) {
        let words: Vec<&str> = rule.split_whitespace().collect();
        let nflog = log
            .filter(|_| self.trace)
            .and_then(|log| nflog(log, !self.plain_prefixes, &words));
        let make = |words: &[&str]| Rule {
            table: table.to_string(),
            rule: ruleset::Rule {
                chain: chain.to_string(),
                position: match op {
                    Op::Append => None,
                    Op::Insert(at) => Some(at),
                },
                spec: words.join(" "),
            },
        };
        // An appended rule's log line goes in front of it; an inserted one's
        // is inserted at the same position after it, which also puts it in
        // front.
        let mut rules = Vec::with_capacity(2);
        match (&nflog, op) {
            (Some(nflog), Op::Append) => rules.extend([make(nflog), make(&words)]),
            (Some(nflog), Op::Insert(_)) => rules.extend([make(&words), make(nflog)]),
            (None, _) => rules.push(make(&words)),
        }
        let v4 = families != Families::V6;
        let v6 = families != Families::V4 && self.ipv6;
        match (v4, v6) {
            (true, true) => {
                self.v4.extend(rules.iter().cloned());
                self.v6.extend(rules);
            }
            (true, false) => self.v4.extend(rules),
            (false, true) => self.v6.extend(rules),
            (false, false) => {}
        }
    }

    fn rules(&self, family: Family) -> &[Rule] {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    /// The command form without the binary: `-t T -N C` lines, then the rules.
    pub(crate) fn discrete(&self, family: Family) -> Vec<String> {
        let rules = self.rules(family);
        let mut seen = BTreeSet::new();
        let mut lines = Vec::new();
        for rule in rules {
            if !is_built_in(&rule.rule.chain) && seen.insert((&rule.table, &rule.rule.chain)) {
                lines.push(format!("-t {} -N {}", rule.table, rule.rule.chain));
            }
        }
        for rule in rules {
            lines.push(format!("-t {} {}", rule.table, rule.rule.line()));
        }
        lines
    }

    /// The command form as Istio 1.13–1.23 runs it: one `iptables …` (or
    /// `ip6tables …`) line per command, each ending in a newline.
    pub(crate) fn commands(&self, family: Family) -> String {
        let mut out = String::new();
        for line in self.discrete(family) {
            out.push_str(family.binary());
            out.push(' ');
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The `iptables-restore --noflush` input, as Istio 1.24+ writes it.
    pub(crate) fn restore(&self, family: Family) -> String {
        self.ruleset(family, true).restore()
    }

    /// The rules by table, tables in byte order. Each table's chains are
    /// those its rules are added to, in order of first use, then (with
    /// `jump_targets`, as the restore form does) chains that are only
    /// jumped to; its rules stay in the order added.
    pub(crate) fn ruleset(&self, family: Family, jump_targets: bool) -> Ruleset {
        let rules = self.rules(family);
        let mut tables: BTreeMap<&str, ruleset::Table> = BTreeMap::new();
        let table = |name: &str| ruleset::Table {
            name: name.to_owned(),
            chains: Vec::new(),
            rules: Vec::new(),
        };
        let mut seen = BTreeSet::new();
        for rule in rules {
            let (name, chain) = (rule.table.as_str(), rule.rule.chain.as_str());
            if seen.insert((name, chain)) && !is_built_in(chain) {
                tables
                    .entry(name)
                    .or_insert_with(|| table(name))
                    .chains
                    .push(chain.to_owned());
            }
        }
        // A chain that is jumped to but has no rules still has to exist.
        if jump_targets {
            for rule in rules {
                let Some(target) = rule.rule.jump_target() else {
                    continue;
                };
                let name = rule.table.as_str();
                if seen.insert((name, target)) && !is_built_in(target) {
                    tables
                        .entry(name)
                        .or_insert_with(|| table(name))
                        .chains
                        .push(target.to_owned());
                }
            }
        }
        for rule in rules {
            let name = rule.table.as_str();
            tables
                .entry(name)
                .or_insert_with(|| table(name))
                .rules
                .push(rule.rule.clone());
        }
        Ruleset {
            tables: tables.into_values().collect(),
        }
    }
}

/// A [`RuleBuilder`] adding rules that trace logging watches.
pub(crate) struct Traced<'a> {
    builder: &'a mut RuleBuilder,
    log: Log,
}

impl Traced<'_> {
    pub(crate) fn append(&mut self, table: &str, chain: &str, rule: &str) {
        self.builder
            .push(Families::Both, Some(self.log), Op::Append, table, chain, rule);
    }

    pub(crate) fn insert(&mut self, table: &str, chain: &str, at: u32, rule: &str) {
        self.builder
            .push(Families::Both, Some(self.log), Op::Insert(at), table, chain, rule);
    }

    pub(crate) fn insert_v4(&mut self, table: &str, chain: &str, at: u32, rule: &str) {
        self.builder
            .push(Families::V4, Some(self.log), Op::Insert(at), table, chain, rule);
    }

    pub(crate) fn insert_v6(&mut self, table: &str, chain: &str, at: u32, rule: &str) {
        self.builder
            .push(Families::V6, Some(self.log), Op::Insert(at), table, chain, rule);
    }
}

fn is_built_in(chain: &str) -> bool {
    BUILT_IN.contains(&chain)
}

/// The NFLOG twin of a traced rule: the same matches (everything before the
/// first `-j`), logged under the rule's prefix. A rule without a target is
/// not traced.
fn nflog<'a>(log: Log, quoted: bool, words: &[&'a str]) -> Option<Vec<&'a str>> {
    let jump = words.iter().position(|w| *w == "-j")?;
    let log = [
        "-j",
        "NFLOG",
        "--nflog-prefix",
        log.prefix(quoted),
        "--nflog-group",
        "1337",
        "--nflog-size",
        "20",
    ];
    Some(words.iter().take(jump).copied().chain(log).collect())
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;
