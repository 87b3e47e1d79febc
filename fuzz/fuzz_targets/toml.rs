//! Fuzzes the TOML front end: arbitrary bytes as a topology, through
//! `syntax::parse` and `lower::lower`. Neither may panic, overflow the stack
//! or run away with memory on any input; a document that does not parse must
//! come with at least one diagnostic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

fuzz_target!(|data: &[u8]| {
    // The CLI refuses invalid UTF-8 before parsing, so the parser only ever
    // sees text; the lossy conversion keeps every byte sequence useful.
    let text = String::from_utf8_lossy(data).into_owned();
    let source = Source::new("fuzz.toml", text);
    let (doc, diags) = meshc::syntax::parse(&source, Syntax::Toml, Limits::default());
    match doc {
        Some(doc) => {
            let _ = meshc::lower::lower(&doc);
        }
        None => assert!(!diags.is_empty(), "parse failed without a diagnostic"),
    }
});
