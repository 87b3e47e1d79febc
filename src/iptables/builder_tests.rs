//! The builder against Istio's own builder goldens (`*/builder/*.golden`),
//! which exercise append and insert, new chains and table grouping with
//! made-up chain, table and arguments.

use std::path::Path;

use super::{Family, Log, RuleBuilder};

// Reading `CI` is how the shared skip rule tells CI from a developer.
#[allow(dead_code, clippy::disallowed_methods)]
#[path = "../../tests/support.rs"]
mod support;

/// One test of Istio's `TestBuilder`: the calls, and the golden it writes.
struct Case {
    golden: &'static str,
    family: Family,
    build: fn(&mut RuleBuilder),
}

const CASES: &[Case] = &[
    Case {
        golden: "insert-single",
        family: Family::V4,
        build: |b| b.insert("table", "chain", 2, "-f foo -b bar"),
    },
    Case {
        golden: "insert-single",
        family: Family::V6,
        build: |b| b.insert("table", "chain", 2, "-f foo -b bar"),
    },
    Case {
        golden: "append-single",
        family: Family::V4,
        build: |b| b.append("table", "chain", "-f foo -b bar"),
    },
    Case {
        golden: "append-single",
        family: Family::V6,
        build: |b| b.append("table", "chain", "-f foo -b bar"),
    },
    Case {
        golden: "append-multi",
        family: Family::V4,
        build: append_multi,
    },
    Case {
        golden: "append-multi",
        family: Family::V6,
        build: append_multi,
    },
    Case {
        golden: "insert-multi",
        family: Family::V4,
        build: insert_multi,
    },
    Case {
        golden: "insert-multi",
        family: Family::V6,
        build: insert_multi,
    },
    Case {
        golden: "append-insert-multi",
        family: Family::V4,
        build: append_insert_multi,
    },
    Case {
        golden: "append-insert-multi",
        family: Family::V6,
        build: append_insert_multi,
    },
    Case {
        golden: "multi-rules-new-chain-v4",
        family: Family::V4,
        build: |b| {
            b.append_v4("table", "chain", "-f foo -b bar");
            b.insert_v4("table", "chain", 2, "-f foo -b bar");
            b.append_v4("table", "chain", "-f foo -b baz");
            b.append_v4("nat", "PREROUTING", "-f foo -b bar");
        },
    },
    Case {
        golden: "multi-rules-new-chain-v6",
        family: Family::V6,
        build: |b| {
            b.append_v6("table", "chain", "-f foo -b bar");
            b.insert_v6("table", "chain", 2, "-f foo -b bar");
            b.insert_v6("table", "chain", 1, "-f foo -b bar");
        },
    },
];

fn append_multi(b: &mut RuleBuilder) {
    b.append("table", "chain", "-f foo -b bar");
    b.append("table", "chain", "-f fu -b bar");
    b.append("table", "chain", "-f foo -b baz");
}

fn insert_multi(b: &mut RuleBuilder) {
    b.insert("table", "chain", 1, "-f foo -b bar");
    b.insert("table", "chain", 2, "-f foo -b baaz");
    b.insert("table", "chain", 3, "-f foo -b baz");
}

fn append_insert_multi(b: &mut RuleBuilder) {
    b.append("table", "chain", "-f foo -b bar");
    b.insert("table", "chain", 2, "-f foo -b bar");
    b.append("table", "chain", "-f foo -b baz");
}

#[test]
fn builder_goldens() {
    let Some(reference) = support::reference_dir() else {
        return;
    };
    let mut failures = Vec::new();
    // Every release holds the same goldens; 1.23.6 only lacks the final newline.
    for (release, final_newline) in [("master", ""), ("1.25.5", ""), ("1.24.6", ""), ("1.23.6", "\n")] {
        let dir = reference.join("istio/iptables").join(release).join("builder");
        for case in CASES {
            let mut builder = RuleBuilder::new(true, false);
            (case.build)(&mut builder);
            let discrete = builder.discrete(case.family).join("\n") + "\n";
            let restore = builder.restore(case.family);
            for (suffix, got) in [("", discrete), ("-restore", restore)] {
                let name = format!("{}{suffix}.golden", case.golden);
                let want = read(&dir.join(&name)) + final_newline;
                if got != want {
                    failures.push(format!(
                        "{release}/{name} ({:?}):\n{got}\n---- want ----\n{want}",
                        case.family
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn trace_logging_wraps_tagged_rules_only() {
    let mut b = RuleBuilder::new(false, true);
    b.traced(Log::InboundCapture)
        .append("nat", "ISTIO_IN_REDIRECT", "-p tcp -j REDIRECT");
    b.append("nat", "ISTIO_OUTPUT", "-j RETURN");
    b.traced(Log::Kubevirt)
        .insert("nat", "PREROUTING", 1, "-i eth1 -j RETURN");
    // Without a target there is nothing to trace.
    b.traced(Log::Kubevirt).append("nat", "ISTIO_OUTPUT", "-o lo");
    assert_eq!(
        b.discrete(Family::V4),
        [
            "-t nat -N ISTIO_IN_REDIRECT",
            "-t nat -N ISTIO_OUTPUT",
            "-t nat -A ISTIO_IN_REDIRECT -p tcp -j NFLOG --nflog-prefix \"InboundCapture\" --nflog-group 1337 --nflog-size 20",
            "-t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT",
            "-t nat -A ISTIO_OUTPUT -j RETURN",
            "-t nat -I PREROUTING 1 -i eth1 -j RETURN",
            "-t nat -I PREROUTING 1 -i eth1 -j NFLOG --nflog-prefix \"KubevirtCommand\" --nflog-group 1337 --nflog-size 20",
            "-t nat -A ISTIO_OUTPUT -o lo",
        ]
    );
}

#[test]
fn restore_declares_chains_only_jumped_to() {
    let mut b = RuleBuilder::new(false, false);
    b.append("raw", "OUTPUT", "-j ISTIO_X");
    b.append("raw", "OUTPUT", "-j RETURN");
    assert_eq!(
        b.restore(Family::V4),
        "* raw\n-N ISTIO_X\n-A OUTPUT -j ISTIO_X\n-A OUTPUT -j RETURN\nCOMMIT\n"
    );
}

#[test]
fn ipv6_rules_need_ipv6() {
    let mut b = RuleBuilder::new(false, false);
    b.append("table", "chain", "-j RETURN");
    assert!(b.discrete(Family::V6).is_empty());
    assert_eq!(b.restore(Family::V6), "");
}
