//! Fuzzes the whole pure pipeline (`meshc::compile`) over arbitrary input
//! read as KDL. Besides "never panics", whenever artifacts come back they
//! must be deterministic (a second compile gives the same bytes) and every
//! path must be one the writer can accept: relative, `/`-separated, with no
//! empty, `.` or `..` segment, no backslash, NUL or control character.
//! The writer re-checks paths anyway; this finds the emitter bug first.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let source = Source::new("fuzz.kdl", text);
    let (artifacts, diags) = meshc::compile(&source, Syntax::Kdl, Limits::default(), "fuzz.kdl");
    let Some(artifacts) = artifacts else {
        assert!(
            diags.iter().any(|d| d.is_error()),
            "no artifacts but no error diagnostic either"
        );
        return;
    };
    assert!(
        !diags.iter().any(|d| d.is_error()),
        "artifacts came back despite an error"
    );
    let (again, _) = meshc::compile(&source, Syntax::Kdl, Limits::default(), "fuzz.kdl");
    assert!(again.as_ref() == Some(&artifacts), "compile is not deterministic");
    for a in &artifacts {
        let p = a.path.as_str();
        assert!(!p.is_empty(), "empty artifact path");
        assert!(!p.starts_with('/'), "absolute artifact path {p:?}");
        assert!(
            !p.chars().any(|c| c == '\\' || c.is_control()),
            "artifact path with a backslash or control character {p:?}"
        );
        for seg in p.split('/') {
            assert!(
                !seg.is_empty() && seg != "." && seg != "..",
                "artifact path with an empty, `.` or `..` segment {p:?}"
            );
        }
    }
});
