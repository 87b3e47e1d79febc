//! The one integration-test binary. Each module tests one face of meshc
//! through data: fixtures, examples, reference goldens, the CLI.

// Tests read the environment (CI, MESHC_*) and may unwrap.
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

mod support;

mod build;
mod cli;
mod control_plane;
mod determinism;
mod e2e;
mod examples;
mod fixtures;
mod format;
mod graph;
mod guide;
mod hostile;
mod import;
mod iptables_conformance;
mod kdl_differential;
mod kubernetes;
mod language;
mod operations;
mod plan;
mod print;
mod properties;
mod resolution;
mod schema;
mod synth;
mod tidy;
mod vm_bundle;
mod vm_files;
mod why;
mod workflow;
mod workload_configure_conformance;
mod yaml_block;
