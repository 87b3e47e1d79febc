//! Criterion benchmarks of the pipeline, one stage at a time, at three
//! sizes: Bookinfo (`examples/bookinfo-vm/topology.kdl`), `1k` (1,000
//! services, 200 VMs, 5 clusters) and `10k` (10,000 services, 2,000 VMs, 20
//! clusters), the last two made by the synthetic generator
//! (`meshc::synth`, the generator behind `examples/synth.rs`).
//!
//! Each benchmark is named `STAGE/SIZE`: `parse` (`syntax::parse`, KDL;
//! `parse/10k-toml` for the TOML form), `lower` (`lower::lower`), `check`
//! (`check::check`), `emit` (`emit::all`), `write-fresh` (`write::write`
//! into an empty directory), `write-noop` (`write::write` over an identical
//! tree: nothing changes) and `compile` (`meshc::compile`, the whole pure
//! pipeline from text to artifacts). Each stage's input is prepared once,
//! outside the measurement.
//!
//! ```text
//! cargo bench --bench pipeline                  # all but the heavy 10k ones
//! cargo bench --bench pipeline -- check/10k     # one benchmark
//! cargo bench --bench pipeline -- /1k           # one size
//! MESHC_BENCH_HEAVY=1 cargo bench --bench pipeline -- write-noop/10k
//! ```
//!
//! `compile/10k`, `write-fresh/10k` and `write-noop/10k` take from seconds
//! to a minute per iteration (the 10k tree is over 100,000 files and half a
//! gigabyte, flushed with one syncfs), and Criterion runs at least ten, so they run only
//! with `MESHC_BENCH_HEAVY=1`; PERFORMANCE.md measures them whole-process.
//! Write benchmarks use directories under the system temporary directory.

// Only the environment switch above is read.
#![allow(clippy::disallowed_methods)]

/// The allocator the `meshc` binary uses (see `src/main.rs`), so that the
/// stages are measured as the command runs them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::cell::OnceCell;

use meshc::synth;
use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BatchSize, BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use meshc::artifact::Artifact;
use meshc::check::Checked;
use meshc::model::Topology;
use meshc::source::Source;
use meshc::syntax::{Document, Limits, Syntax};

/// One topology and every stage's input, prepared once.
struct Case {
    size: &'static str,
    source: Source,
    syntax: Syntax,
    /// Detached from `source` (a struct cannot borrow from itself); lowering
    /// reads an owned string exactly as it reads a borrowed one.
    doc: Document<'static>,
    topology: Topology,
    checked: Checked,
    /// Made on first use: emitting 10k takes seconds, and only the write
    /// benchmarks need it.
    artifacts: OnceCell<Vec<Artifact>>,
    /// The heavy cases run fewer, longer samples.
    heavy: bool,
}

impl Case {
    fn new(size: &'static str, name: &str, text: String, syntax: Syntax, heavy: bool) -> Case {
        let source = Source::new(name, text);
        let (doc, diags) = meshc::syntax::parse(&source, syntax, Limits::default());
        let doc = doc.unwrap_or_else(|| panic!("{size}: does not parse: {diags:?}"));
        let (topology, diags) = meshc::lower::lower(&doc);
        let doc = doc.into_owned();
        assert!(diags.is_empty(), "{size}: {diags:?}");
        let (checked, diags) = meshc::check::check(topology.clone());
        let checked = checked.unwrap_or_else(|| panic!("{size}: does not check: {diags:?}"));
        Case {
            size,
            source,
            syntax,
            doc,
            topology,
            checked,
            artifacts: OnceCell::new(),
            heavy,
        }
    }

    fn artifacts(&self) -> &[Artifact] {
        self.artifacts
            .get_or_init(|| meshc::emit::all(&self.checked, "topology.kdl"))
    }
}

fn synthetic(services: usize, vms: usize, clusters: usize, format: synth::Format) -> String {
    let params = synth::Params {
        format,
        ..synth::Params::new(services, vms, clusters)
    };
    synth::generate(&params).expect("the generator accepts these sizes")
}

fn cases() -> Vec<Case> {
    let bookinfo = include_str!("../examples/bookinfo-vm/topology.kdl").to_owned();
    vec![
        Case::new("bookinfo", "topology.kdl", bookinfo, Syntax::Kdl, false),
        Case::new(
            "1k",
            "topology.kdl",
            synthetic(1_000, 200, 5, synth::Format::Kdl),
            Syntax::Kdl,
            false,
        ),
        Case::new(
            "10k",
            "topology.kdl",
            synthetic(10_000, 2_000, 20, synth::Format::Kdl),
            Syntax::Kdl,
            true,
        ),
    ]
}

/// Small samples, so that the whole run takes minutes on two cores.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, heavy: bool) {
    group.sample_size(10);
    if heavy {
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(5));
    } else {
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
    }
}

fn stages(c: &mut Criterion) {
    let cases = cases();
    let limits = Limits::default();
    let heavy = std::env::var("MESHC_BENCH_HEAVY").is_ok_and(|v| v == "1");
    let toml_10k = Source::new("topology.toml", synthetic(10_000, 2_000, 20, synth::Format::Toml));

    for case in &cases {
        let mut g = c.benchmark_group("parse");
        configure(&mut g, case.heavy);
        g.bench_function(case.size, |b| {
            b.iter(|| meshc::syntax::parse(black_box(&case.source), case.syntax, limits))
        });
        if case.size == "10k" {
            g.bench_function("10k-toml", |b| {
                b.iter(|| meshc::syntax::parse(black_box(&toml_10k), Syntax::Toml, limits))
            });
        }
        g.finish();

        let mut g = c.benchmark_group("lower");
        configure(&mut g, case.heavy);
        g.bench_function(case.size, |b| {
            b.iter(|| meshc::lower::lower(black_box(&case.doc)))
        });
        g.finish();

        // `check` consumes the topology: each iteration gets a fresh copy,
        // made outside the measurement.
        let mut g = c.benchmark_group("check");
        configure(&mut g, case.heavy);
        g.bench_function(case.size, |b| {
            b.iter_batched(
                || case.topology.clone(),
                meshc::check::check,
                BatchSize::LargeInput,
            )
        });
        g.finish();

        let mut g = c.benchmark_group("emit");
        configure(&mut g, case.heavy);
        g.bench_function(case.size, |b| {
            b.iter(|| meshc::emit::all(black_box(&case.checked), "topology.kdl"))
        });
        g.finish();

        if case.heavy && !heavy {
            continue;
        }
        write(c, case);

        let mut g = c.benchmark_group("compile");
        configure(&mut g, case.heavy);
        g.bench_function(case.size, |b| {
            b.iter(|| meshc::compile(black_box(&case.source), case.syntax, limits, "topology.kdl"))
        });
        g.finish();
    }
}

/// `write-fresh`: into a new, empty directory each time (creating it and
/// removing it afterwards are not measured); `write-noop`: over the tree it
/// already holds.
fn write(c: &mut Criterion, case: &Case) {
    let tmp = std::env::temp_dir();
    let artifacts = case.artifacts();
    let mut g = c.benchmark_group("write-fresh");
    configure(&mut g, case.heavy);
    g.bench_function(case.size, |b| {
        b.iter_batched(
            || tempfile::tempdir_in(&tmp).expect("a temporary directory"),
            |dir| {
                let out = dir.path().join("out");
                meshc::write::write(&out, artifacts, Default::default()).expect("the write succeeds");
                dir
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let dir = tempfile::tempdir_in(&tmp).expect("a temporary directory");
    let out = dir.path().join("out");
    meshc::write::write(&out, artifacts, Default::default()).expect("the first write succeeds");
    let mut g = c.benchmark_group("write-noop");
    configure(&mut g, case.heavy);
    g.bench_function(case.size, |b| {
        b.iter(|| {
            meshc::write::write(black_box(&out), artifacts, Default::default()).expect("the write succeeds")
        })
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
