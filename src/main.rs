//! The `meshc` binary: everything lives in the library; this maps the
//! command line to `cli::run` and its result to the process exit code.

fn main() {
    std::process::exit(meshc::cli::run(std::env::args_os()));
}

/// mimalloc instead of the C library's allocator: a large build makes
/// millions of small allocations, and with glibc's malloc their bookkeeping
/// and the page faults of a heap grown 4 KiB at a time were a quarter to
/// two fifths of the run (PERFORMANCE.md measures both; ARCHITECTURE.md has
/// the trade-off). The benchmarks use it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
