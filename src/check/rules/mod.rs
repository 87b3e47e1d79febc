//! The rules, one per file. `ALL` is the order they run in; the order of
//! findings does not depend on it (they are sorted by position).

use super::Rule;

mod duplicate_name;
mod unknown_reference;

pub static ALL: &[&Rule] = &[&unknown_reference::RULE, &duplicate_name::RULE];
