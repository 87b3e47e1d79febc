//! `meshc import`: the round trip `build(import(build(T))) == build(T)`
//! over the examples, the topologies in tests/ok and a synthetic mesh; the
//! reading layer on hostile YAML; conflicts and unexpressed fields.

use std::collections::BTreeMap;
use std::path::Path;

use meshc::import::import;
use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

/// build(T): every artifact by path.
fn build(source: &Source, syntax: Syntax) -> BTreeMap<String, String> {
    let (artifacts, diags) = meshc::compile(source, syntax, Limits::default(), "topology.kdl");
    let artifacts = artifacts.unwrap_or_else(|| panic!("{} does not build: {diags:?}", source.name));
    artifacts.into_iter().map(|a| (a.path, a.contents)).collect()
}

/// The artifacts as the files an import reads.
fn as_inputs(files: &BTreeMap<String, String>) -> Vec<Source> {
    files
        .iter()
        .map(|(p, c)| Source::new(format!("out/{p}"), c.clone()))
        .collect()
}

/// build(import(build(T))) against build(T): the paths that differ, each
/// with its first differing line.
fn round_trip(source: &Source, syntax: Syntax) -> Result<(), String> {
    let first = build(source, syntax);
    let imported = import(&as_inputs(&first));
    let errors: Vec<_> = imported.diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        return Err(format!("import errors: {errors:?}"));
    }
    let (checked, diags) = meshc::check::check(imported.topology);
    let Some(checked) = checked else {
        let errors: Vec<_> = diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{} {}", d.code.code, d.message))
            .collect();
        return Err(format!("the imported topology does not check: {errors:?}"));
    };
    let second: BTreeMap<String, String> = meshc::emit::all(&checked, "topology.kdl")
        .into_iter()
        .map(|a| (a.path, a.contents))
        .collect();
    let mut problems = Vec::new();
    for path in first
        .keys()
        .chain(second.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (first.get(path), second.get(path)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                let line = a
                    .lines()
                    .zip(b.lines())
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.lines().count().min(b.lines().count()));
                problems.push(format!(
                    "{path}: line {}: `{}` became `{}`",
                    line + 1,
                    a.lines().nth(line).unwrap_or("<end>"),
                    b.lines().nth(line).unwrap_or("<end>")
                ));
            }
            (Some(_), None) => problems.push(format!("{path}: missing")),
            (None, _) => problems.push(format!("{path}: extra")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn topologies() -> Vec<(String, Source, Syntax)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for ex in ["bookinfo-vm", "bookinfo-legacy", "multicluster"] {
        let path = root.join("examples").join(ex).join("topology.kdl");
        out.push((
            ex.to_owned(),
            Source::new("topology.kdl", std::fs::read_to_string(path).unwrap()),
            Syntax::Kdl,
        ));
    }
    let mut ok: Vec<_> = std::fs::read_dir(root.join("tests/ok"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    ok.sort();
    for path in ok {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let syntax = match path.extension().and_then(|e| e.to_str()) {
            Some("kdl") => Syntax::Kdl,
            // A TOML twin is the same topology; only TOML-only ones count.
            Some("toml") if !root.join("tests/ok").join(format!("{stem}.kdl")).exists() => Syntax::Toml,
            _ => continue,
        };
        out.push((
            format!("ok/{name}"),
            Source::new(name, std::fs::read_to_string(&path).unwrap()),
            syntax,
        ));
    }
    let synth = meshc::synth::generate(&meshc::synth::Params::new(1000, 100, 3)).unwrap();
    out.push((
        "synth-1k".to_owned(),
        Source::new("synth.kdl", synth),
        Syntax::Kdl,
    ));
    // Another seed and shape: four clusters, a VM for every five services.
    let mut p = meshc::synth::Params::new(300, 60, 4);
    p.seed = 7;
    let synth = meshc::synth::generate(&p).unwrap();
    out.push((
        "synth-300-seed-7".to_owned(),
        Source::new("synth.kdl", synth),
        Syntax::Kdl,
    ));
    out
}

/// The topologies whose round trip is byte-identical: all of them.
/// `ok/legacy-two-clusters.toml` only with a stand-in caller (W953): the
/// legacy flow writes no Sidecar, so the artifacts say that something in
/// cluster `spoke` calls `mysql` (its Service is there) but not what.
/// `round_trip_status` prints each one's first differences.
const GREEN: &[&str] = &[
    "bookinfo-vm",
    "bookinfo-legacy",
    "multicluster",
    "ok/allow-warnings.kdl",
    "ok/bom.kdl",
    "ok/cluster-and-vm-placement.kdl",
    "ok/crlf.kdl",
    "ok/dns-modes-that-work.kdl",
    "ok/ipv6-vm.kdl",
    "ok/multi-network-with-gateways.kdl",
    "ok/second-cluster-distinct-pod-cidr.kdl",
    "ok/server-first-ports-declared.kdl",
    "ok/service-on-22-managed-on-2222.kdl",
    "ok/service-on-22-without-ssh.kdl",
    "ok/several-services-on-one-vm.kdl",
    "ok/two-vms-per-version.kdl",
    "ok/vm-restates-own-app-label.kdl",
    "ok/legacy-two-clusters.toml",
    "synth-1k",
    "synth-300-seed-7",
];

#[test]
fn round_trip_status() {
    let mut report = String::new();
    let mut failed = Vec::new();
    for (name, source, syntax) in topologies() {
        match round_trip(&source, syntax) {
            Ok(()) => report.push_str(&format!("green {name}\n")),
            Err(e) => {
                report.push_str(&format!(
                    "red   {name}\n    {}\n",
                    e.lines().take(6).collect::<Vec<_>>().join("\n    ")
                ));
                if GREEN.contains(&name.as_str()) {
                    failed.push(name);
                }
            }
        }
    }
    println!("{report}");
    assert!(failed.is_empty(), "round trip broke for {failed:?}:\n{report}");
}

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every file under `dir` that an import reads, sorted, named relative to
/// `base` (as the CLI names what it walks).
fn inputs_under(dir: &Path, base: &Path) -> Vec<Source> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| (p.strip_prefix(base).unwrap().to_string_lossy().into_owned(), p))
        .filter(|(name, _)| meshc::import::Path::of(name).kind != meshc::import::FileKind::Other)
        .map(|(name, p)| Source::new(name, std::fs::read_to_string(p).unwrap()))
        .collect()
}

/// An import's report as a user reads it: each input's findings, then the
/// printed topology and what `check` says of it.
fn report(inputs: &[Source]) -> (String, std::collections::BTreeSet<String>) {
    use meshc::diagnostic::render;
    let imported = import(inputs);
    let mut codes = std::collections::BTreeSet::new();
    let mut per_input: Vec<Vec<meshc::diagnostic::Diagnostic>> = vec![Vec::new(); inputs.len()];
    for d in imported.diagnostics {
        codes.insert(d.code.code.to_owned());
        let (i, d) = meshc::import::localize(inputs, d).expect("every span is in an input");
        per_input[i].push(d);
    }
    let mut out = String::new();
    for (source, diags) in inputs.iter().zip(&per_input) {
        if !diags.is_empty() {
            out.push_str(&render::human(diags, source, false));
            out.push_str(&render::summary(diags, source));
            out.push('\n');
        }
    }
    let text = meshc::import::print::print(
        &imported.topology,
        &imported.notes,
        meshc::import::print::Syntax::Kdl,
    );
    let printed = Source::new("topology.kdl", text);
    let (_, check) = meshc::check_source(&printed, Syntax::Kdl, Limits::default());
    out.push_str("--- topology.kdl ---\n");
    out.push_str(&printed.text);
    out.push_str("--- meshc check ---\n");
    out.push_str(&render::human(&check, &printed, false));
    out.push_str(&render::summary(&check, &printed));
    out.push('\n');
    (out, codes)
}

/// tests/import/<CODE>-<what>/: the inputs that raise CODE; the report is
/// snapshotted (snapshots/import/).
#[test]
fn import_fixtures_raise_exactly_their_codes() {
    let dir = root().join("tests/import");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "{cases:?}");
    let mut wrong = Vec::new();
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let code = name.split('-').next().unwrap().to_owned();
        let inputs = inputs_under(&case, &dir);
        let (rendered, codes) = report(&inputs);
        if codes != std::collections::BTreeSet::from([code.clone()]) {
            wrong.push(format!("{name}: expected {{{code}}}, got {codes:?}"));
        }
        insta::with_settings!({
            snapshot_path => root().join("snapshots/import"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, rendered);
        });
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The CLI streams its inputs through the importer and keeps only the
/// texts that gave findings as they were read; those that assembly's
/// findings point into (E953–E956, W952, W953 here; E956 also names a
/// second file) it reads again. Each fixture's report must be what the
/// library gives with every text at hand, file names, lines and columns
/// included, and the topology printed the same.
#[test]
fn the_cli_streaming_its_inputs_reports_what_the_library_reports() {
    let dir = root().join("tests/import");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    for name in cases {
        let (rendered, _) = report(&inputs_under(&dir.join(&name), &dir));
        let (per_input, rest) = rendered.split_once("--- topology.kdl ---\n").unwrap();
        let (topology, _) = rest.split_once("--- meshc check ---\n").unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshc"))
            .current_dir(&dir)
            .args(["import", &name])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!per_input.is_empty(), "{name}: no finding");
        assert!(
            stderr.starts_with(per_input),
            "{name}: the CLI reported\n{stderr}\nthe library\n{per_input}"
        );
        if !stderr.contains("nothing was written") {
            assert_eq!(String::from_utf8_lossy(&out.stdout), topology, "{name}");
        }
    }
}

/// Istio's own samples and the Alibaba walkthrough: every object and field
/// the language cannot express is reported; the reports are snapshots.
#[test]
fn real_inputs_no_one_here_wrote() {
    let Some(reference) = crate::support::reference_dir() else {
        return;
    };
    let istio = reference.join("istio");
    for (name, dir) in [
        ("alibaba-istio-meshexpansion", "alibaba-istio-meshexpansion"),
        ("istio-master-bookinfo", "samples/master/bookinfo"),
        ("istio-1.0.0-bookinfo", "samples/1.0.0/bookinfo"),
        ("istio-master-multicluster", "samples/master/multicluster"),
        ("istioctl-vmconfig-ipv4", "workload-entry-configure/vmconfig/ipv4"),
    ] {
        let inputs = inputs_under(&istio.join(dir), &istio);
        assert!(!inputs.is_empty(), "{dir}");
        let started = std::time::Instant::now();
        let (rendered, _) = report(&inputs);
        assert!(started.elapsed().as_secs() < 10, "{dir}");
        insta::with_settings!({
            snapshot_path => root().join("snapshots/import/reference"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, rendered);
        });
    }
}

#[test]
fn a_100_mb_document_is_refused_at_once() {
    let text = format!(
        "kind: List\nitems:\n{}",
        "- {kind: ServiceAccount, metadata: {name: a}}\n".repeat(2_300_000)
    );
    assert!(text.len() > 100_000_000);
    let started = std::time::Instant::now();
    let imported = import(&[Source::new("huge.yaml", text)]);
    assert!(started.elapsed().as_secs() < 2, "{:?}", started.elapsed());
    let codes: Vec<&str> = imported.diagnostics.iter().map(|d| d.code.code).collect();
    assert!(codes.contains(&"E951"), "{codes:?}");
}

#[test]
fn a_stream_list_and_kubectl_output_read_alike() {
    let service = |n: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {n}\n  namespace: shop\nspec:\n  ports:\n  - name: http\n    port: 80\n"
        )
    };
    let stream = format!("{}---\n{}", service("a"), service("b"));
    let indent = |s: String| {
        s.lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
            .replacen("  apiVersion", "- apiVersion", 1)
    };
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n{}{}metadata:\n  resourceVersion: \"\"\n",
        indent(service("a")),
        indent(service("b"))
    );
    let names = |text: String| {
        let t = import(&[Source::new("x.yaml", text)]).topology;
        t.services
            .iter()
            .map(|s| (s.name.value.clone(), s.ports.len()))
            .collect::<Vec<_>>()
    };
    let from_stream = names(stream);
    assert_eq!(from_stream, [("a".to_owned(), 1), ("b".to_owned(), 1)]);
    assert_eq!(names(list), from_stream);
}

fn meshc_cli(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    // A run refused before it reads its input closes the pipe early.
    let _ = pipe.write_all(stdin.unwrap_or_default().as_bytes());
    drop(pipe);
    child.wait_with_output().unwrap()
}

#[test]
fn the_cli_writes_once_atomically_and_reports_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let example = root().join("examples/multicluster/topology.kdl");
    let built = meshc_cli(
        &[
            "build",
            example.to_str().unwrap(),
            "-o",
            out_dir.to_str().unwrap(),
        ],
        None,
    );
    assert!(built.status.success(), "{built:?}");
    let file = tmp.path().join("shop.kdl");
    let f = file.to_str().unwrap();
    let first = meshc_cli(&["import", out_dir.to_str().unwrap(), "-o", f], None);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.starts_with("mesh shop {"), "{written}");
    // The imported topology builds what the example builds.
    let again = tmp.path().join("again");
    let rebuilt = meshc_cli(&["build", f, "-o", again.to_str().unwrap()], None);
    assert!(rebuilt.status.success(), "{rebuilt:?}");
    let original =
        std::fs::read_to_string(out_dir.join("kubernetes/mesh/shop/service-catalog.yaml")).unwrap();
    let round = std::fs::read_to_string(again.join("kubernetes/mesh/shop/service-catalog.yaml")).unwrap();
    assert_eq!(original.replace("topology.kdl", "shop.kdl"), round);

    // Never over an existing file without --force.
    std::fs::write(&file, "hand-written\n").unwrap();
    let refused = meshc_cli(&["import", out_dir.to_str().unwrap(), "-o", f], None);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("E957"),
        "{refused:?}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hand-written\n");
    let forced = meshc_cli(&["import", out_dir.to_str().unwrap(), "-o", f, "--force"], None);
    assert_eq!(forced.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".meshc-import"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Standard input, TOML out.
    let yaml =
        std::fs::read_to_string(root().join("tests/import/E955-weights-not-100/objects.yaml")).unwrap();
    let piped = meshc_cli(&["import", "-", "--format", "toml"], Some(&yaml));
    assert_eq!(piped.status.code(), Some(1), "{piped:?}");
    let toml = String::from_utf8_lossy(&piped.stdout);
    assert!(toml.contains("[mesh]") || toml.contains("[mesh."), "{toml}");
    assert!(String::from_utf8_lossy(&piped.stderr).contains("E955"));

    // Machine formats need -o (stdout is theirs).
    let usage = meshc_cli(&["import", "-", "--diagnostic-format", "json"], Some(&yaml));
    assert_eq!(usage.status.code(), Some(2));
    let j = tmp.path().join("j.kdl");
    for (format, needle) in [
        ("json", "\"E955\""),
        ("sarif", "\"ruleId\": \"E955\""),
        ("github", "::error"),
    ] {
        let _ = std::fs::remove_file(&j);
        let run = meshc_cli(
            &[
                "import",
                "-",
                "-o",
                j.to_str().unwrap(),
                "--diagnostic-format",
                format,
            ],
            Some(&yaml),
        );
        assert_eq!(run.status.code(), Some(1), "{format}: {run:?}");
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(stdout.contains(needle), "{format}: {stdout}");
    }
}

/// A directory's files are read relative to it with one reused buffer and
/// no `fstat` for the small ones: every file, whatever its size around the
/// first read's 256 KiB, must give what importing it by name gives (the
/// single-file reader `stat`s and reads it whole), and one over the limit
/// is refused before it is read, as by name.
#[test]
fn a_directory_reads_each_file_as_the_file_given_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(dir.join("b")).unwrap();
    let objects =
        std::fs::read_to_string(root().join("tests/import/E953-two-entries-one-address/entries.yaml"))
            .unwrap();
    let (services, entries) = objects.split_at(objects.find("kind: WorkloadEntry").unwrap());
    let services = services.rsplit_once("---").unwrap().0;
    let entries = format!("---\napiVersion: networking.istio.io/v1\n{entries}");
    // Padded so that the objects that matter sit past the first read (and
    // past its doubling), or end exactly at its size.
    let padded = |to: usize, tail: &str| {
        let mut text = String::new();
        while text.len() + tail.len() + 16 < to {
            text.push_str("# padding\n");
        }
        text.push_str(&"#".repeat(to - tail.len() - text.len() - 1));
        text.push('\n');
        text.push_str(tail);
        assert_eq!(text.len(), to);
        text
    };
    std::fs::write(dir.join("a.yaml"), padded(256 << 10, services)).unwrap();
    std::fs::write(dir.join("b/c.yaml"), padded(700 << 10, &entries)).unwrap();
    std::fs::write(dir.join("d.yaml"), padded((256 << 10) + 1, "")).unwrap();
    std::fs::write(dir.join(".hidden.yaml"), "not: [valid").unwrap();
    let by_name = |names: &[&str]| {
        let paths: Vec<String> = names.iter().map(|n| dir.join(n).display().to_string()).collect();
        let mut args = vec!["import"];
        args.extend(paths.iter().map(String::as_str));
        let out = meshc_cli(&args, None);
        (
            out.status.code(),
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let whole = by_name(&["a.yaml", "b/c.yaml", "d.yaml"]);
    assert_eq!(whole.0, Some(1), "{}", whole.2);
    assert!(whole.2.contains("E953"), "{}", whole.2);
    assert_eq!(by_name(&[""]), whole);

    // Over the limit (64 MiB): refused unread, as by name. Sparse, so the
    // test writes nothing.
    let huge = std::fs::File::create(dir.join("e.yaml")).unwrap();
    huge.set_len((64 << 20) + 1).unwrap();
    drop(huge);
    let refused = by_name(&["a.yaml", "b/c.yaml", "d.yaml", "e.yaml"]);
    assert_eq!(refused.0, Some(1), "{}", refused.2);
    assert!(refused.2.contains("larger than the limit"), "{}", refused.2);
    assert_eq!(by_name(&[""]), refused);
}

/// A cluster-only caller whose account no VM workload gives runs as its
/// own name (`ClusterSide`'s `default_of` fallback), even when a policy
/// also admits a longer account that reads as its (`x-a` ends in `-a`):
/// that one is the other caller's. A mix-up in the fallback (the
/// namespace for the name) gives caller `a` the account `x-a` too, which
/// the built files do not show (the same principals are admitted either
/// way), so this compares what the import says of each service.
#[test]
fn a_caller_without_a_known_account_runs_as_its_own_name() {
    let topology = r#"mesh shop { istio "1.24" }
network vpc { cidr "10.0.0.0/16" }
cluster prod {
    network vpc
    pod-cidr "10.8.0.0/16"
    service-cidr "10.9.0.0/16"
    control-plane #true
    east-west-gateway "10.0.0.100"
}
vm box {
    address "10.0.2.20"
    network vpc
}
namespace store

service c namespace=store { port http 8080; deploy v1 vm=box }
service a namespace=store { deploy v1 v2 cluster=prod; calls c }
service x-a namespace=store { deploy v1 cluster=prod; calls c }
"#;
    let first = build(&Source::new("topology.kdl", topology), Syntax::Kdl);
    let imported = import(&as_inputs(&first));
    let errors: Vec<_> = imported.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let accounts = |name: &str| {
        let s = imported
            .topology
            .services
            .iter()
            .find(|s| s.name.value == name)
            .unwrap_or_else(|| panic!("no service {name}"));
        let lines: Vec<(Vec<String>, Option<String>)> = s
            .deployments
            .iter()
            .map(|d| {
                (
                    d.versions.iter().map(|v| v.value.clone()).collect(),
                    d.service_account.as_ref().map(|a| a.value.clone()),
                )
            })
            .collect();
        (s.service_account.as_ref().map(|a| a.value.clone()), lines)
    };
    let v = |vs: &[&str]| vs.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
    assert_eq!(accounts("a"), (None, vec![(v(&["v1", "v2"]), None)]));
    assert_eq!(accounts("x-a"), (None, vec![(v(&["v1"]), None)]));
    let admits: Vec<&str> = imported
        .notes
        .iter()
        .filter(|n| n.text.contains("policies admit"))
        .map(|n| n.text.as_str())
        .collect();
    assert!(admits.is_empty(), "{admits:?}");
}
