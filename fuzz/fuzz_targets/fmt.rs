//! Fuzzes `meshc fmt` (`syntax::format::format_kdl`): arbitrary bytes as a
//! KDL topology. It must not panic, overflow the stack or run away with
//! memory; a refusal must carry a diagnostic; and whatever it formats must
//! format to itself again (so `fmt --check` after `fmt` always passes).

#![no_main]

use libfuzzer_sys::fuzz_target;
use meshc::source::Source;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let source = Source::new("fuzz.kdl", text);
    match meshc::syntax::format::format_kdl(&source) {
        Ok(formatted) => {
            let again = Source::new("fuzz.kdl", formatted.clone());
            match meshc::syntax::format::format_kdl(&again) {
                Ok(twice) => assert!(twice == formatted, "fmt is not idempotent"),
                Err(diags) => panic!("fmt output does not format again: {diags:?}"),
            }
        }
        Err(diags) => assert!(!diags.is_empty(), "fmt refused without a diagnostic"),
    }
});
