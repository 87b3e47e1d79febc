//! Fuzzes `meshc import`'s own readers and writer: the VM-file parsers
//! (`import::vm_files`) over arbitrary text, and the printer
//! (`import::print`) over every topology that arbitrary KDL lowers to
//! cleanly. The parsers must return (never panic), with every span inside
//! the text, on character boundaries, and every key span holding the key.
//! A topology printed in either syntax must lower again with no finding to
//! the same declarations, and its KDL must be `meshc fmt`'s form.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshc::import::print::{Syntax as Out, print};
use meshc::import::vm_files::{self, EnvReader};
use meshc::model::Topology;
use meshc::source::{Source, Span};
use meshc::syntax::{Limits, Syntax};

fn in_text(text: &str, span: Span) -> &str {
    assert!(span.start <= span.end && span.end <= text.len(), "span {span:?} outside the text");
    assert!(
        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
        "span {span:?} splits a character"
    );
    &text[span.start..span.end]
}

/// The declarations, spans left out.
fn declarations(t: &Topology) -> String {
    format!(
        "{:#?}\n{:#?}\n{:#?}\n{:#?}\n{:#?}\n{:#?}",
        t.mesh, t.networks, t.clusters, t.vms, t.namespaces, t.services
    )
    .lines()
    .filter(|l| {
        let t = l.trim_start();
        !(t.starts_with("start: ") || t.starts_with("end: "))
    })
    .collect::<Vec<_>>()
    .join("\n")
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let source = Source::new("fuzz", text.clone());

    for reader in [EnvReader::Bash, EnvReader::Systemd] {
        for e in vm_files::env_file(&source, reader).entries {
            assert_eq!(in_text(&text, e.key.span), e.key.value);
            in_text(&text, e.value.span);
        }
    }
    for e in vm_files::hosts(&source).entries {
        in_text(&text, e.address.span);
        for n in &e.names {
            assert_eq!(in_text(&text, n.span), n.value);
        }
    }
    for e in vm_files::dnsmasq(&source).entries {
        assert_eq!(in_text(&text, e.key.span), e.key.value);
        for s in e.value.iter().chain(&e.domains).chain(&e.target) {
            assert_eq!(in_text(&text, s.span), s.value);
        }
    }

    let (topology, diags) = meshc::front_end(&source, Syntax::Kdl, Limits::default());
    let Some(topology) = topology.filter(|_| diags.is_empty()) else {
        return;
    };
    let want = declarations(&topology);
    for (out, syntax) in [(Out::Kdl, Syntax::Kdl), (Out::Toml, Syntax::Toml)] {
        let printed = print(&topology, &[], out);
        let again = Source::new("printed", printed.clone());
        let (back, diags) = meshc::front_end(&again, syntax, Limits::default());
        assert!(diags.is_empty(), "{out:?}: the printed text has findings {diags:?}\n{printed}");
        let back = back.expect("a topology without findings");
        assert_eq!(declarations(&back), want, "{out:?}: another model\n{printed}");
        if out == Out::Kdl {
            let formatted = meshc::syntax::format::format_kdl(&again);
            assert!(formatted.as_ref() == Ok(&printed), "not meshc fmt's form:\n{printed}");
        }
    }
});
