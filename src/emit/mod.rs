//! Checked → artifacts: pure functions, one module per target.
//!
//! Emitters take `&Checked` (the type proves validation ran), cannot fail,
//! do no I/O and read no clock or environment: output depends only on the
//! topology (and the file name printed in headers).

pub mod vm;
