//! `meshc import`: from an existing mesh's files back to a topology.
//!
//! The stage reads backwards through the pipeline: files → `Topology` (the
//! model) + notes → text (`print`), which the usual front end and `check`
//! then judge.

pub mod print;
pub mod vm_files;
