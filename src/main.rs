//! The `meshc` binary: everything lives in the library; this maps the
//! command line to `cli::run` and its result to the process exit code.

fn main() {
    std::process::exit(meshc::cli::run(std::env::args_os()));
}
