//! The topology file is untrusted: it arrives in pull requests. Every file
//! under `tests/fail/hostile/` (and a few cases too big to commit, generated
//! here) goes through the real binary, `meshc build FILE -o DIR`, and must be
//! refused cleanly: exit 1, a diagnostic with its code, no panic or abort,
//! nothing written (DIR not even created), in under a second of CPU time,
//! with output that stays proportionate to the input and echoes no terminal
//! control characters back.
//!
//! The big cases (a 1 MB line, 100k nodes, nesting 10k deep) are generated
//! at run time rather than committed: they are a few lines of code here but
//! megabytes in every clone, and a generator states what the case *is*
//! ("10,000 `[`") better than a blob does.
//!
//! `meshc import` reads YAML from clusters and pull requests alike: alias
//! bombs, a 100 MB document, deep nesting, duplicate keys and YAML 1.1
//! booleans as names are read or refused within the same CPU budget and a
//! 256 MiB address space, and an input read in part yields no topology.
//!
//! The second half proves the input limits (E104 size, E105 depth and node
//! count) and that the writer cannot be tricked into writing outside DIR.

use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use meshc::source::Source;
use meshc::syntax::{Limits, Syntax};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// How much CPU time (user and system, every thread) a refusal may take.
/// The bound is the brief's, for the debug binary `cargo test` builds: a
/// hostile PR must not tie up CI. It is CPU time, not wall time, because
/// the tests share a few cores with other builds: under load a 0.5 s case
/// took over a second of wall time while using the same CPU, whereas a
/// quadratic blow-up uses more CPU however quiet the machine is.
const BUDGET: Duration = Duration::from_secs(1);
/// A wall-clock ceiling, only against hangs: a process that waits (on a
/// FIFO, a lock, a full pipe) uses no CPU, so [`BUDGET`] cannot see it.
const HANG: Duration = Duration::from_secs(10);
/// After this the child is killed, so that a runaway case fails the test
/// instead of hanging the suite.
const KILL_AFTER: Duration = Duration::from_secs(15);
/// The unit of the times in `/proc/PID/stat` (`USER_HZ`, what `getconf
/// CLK_TCK` prints): 100 on every architecture Linux and Rust share.
const USER_HZ: u64 = 100;
/// Bytes of output kept per stream; the rest is counted, not stored.
const KEEP: usize = 1 << 20;

/// What one run of the binary did.
struct Run {
    code: Option<i32>,
    stdout_len: usize,
    stderr_len: usize,
    /// The first `KEEP` bytes of stderr.
    stderr: Vec<u8>,
    elapsed: Duration,
    /// CPU time used, user and system, by every thread of the child (and
    /// by any child of its own that it waited for).
    cpu: Duration,
    killed: bool,
}

impl Run {
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Reads a stream to the end on a thread (a child blocks when a pipe
/// fills), keeping the first `KEEP` bytes and counting the rest.
fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<(Vec<u8>, usize)> {
    std::thread::spawn(move || {
        let (mut kept, mut total, mut buf) = (Vec::new(), 0usize, vec![0u8; 1 << 16]);
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
            let room = KEEP.saturating_sub(kept.len()).min(n);
            kept.extend_from_slice(&buf[..room]);
        }
        (kept, total)
    })
}

/// The CPU time `pid`, a child not yet reaped, has used, once it has
/// exited; `None` while it runs. A child that has exited stays a zombie until
/// it is waited for, its pid still its own and `/proc/PID/stat` still
/// holding its times, which are the same as `wait4` would report.
fn cpu_once_exited(pid: u32) -> Option<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).expect("/proc/PID/stat of a child not yet reaped");
    // `PID (COMM) STATE …`; COMM may hold spaces and parentheses.
    let after_comm = stat.rfind(')').map_or("", |end| &stat[end + 1..]);
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    if fields.first() != Some(&"Z") {
        return None;
    }
    // Fields 14 to 17 of proc_pid_stat(5): utime, stime, cutime, cstime.
    let ticks: u64 = fields[11..15]
        .iter()
        .map(|f| f.parse::<u64>().expect("a time in clock ticks"))
        .sum();
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// Runs `cmd` with a watchdog: killed after `KILL_AFTER`.
fn run(mut cmd: Command) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Plain output: no colour codes to tell apart from echoed input.
    cmd.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn meshc");
    let out = drain(child.stdout.take().expect("piped"));
    let err = drain(child.stderr.take().expect("piped"));
    let mut killed = false;
    // Not `try_wait`, which would reap the child and its times with it.
    let cpu = loop {
        if let Some(cpu) = cpu_once_exited(child.id()) {
            break cpu;
        }
        if start.elapsed() > KILL_AFTER && !killed {
            let _ = child.kill();
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    let status = child.wait().expect("wait");
    let (_, stdout_len) = out.join().expect("stdout reader");
    let (stderr, stderr_len) = err.join().expect("stderr reader");
    Run {
        code: status.code(),
        stdout_len,
        stderr_len,
        stderr,
        elapsed,
        cpu,
        killed,
    }
}

fn meshc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meshc"))
}

/// True when `text` holds a printed diagnostic code such as `E401(`.
fn has_code(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(5)
        .any(|w| matches!(w[0], b'E' | b'W') && w[1..4].iter().all(u8::is_ascii_digit) && w[4] == b'(')
}

/// Characters that must never reach a terminal from a hostile file: C0 and
/// C1 controls but the line feed (ESC starts colour, title and hyperlink
/// sequences; CR overwrites the line), and the bidirectional overrides and
/// isolates that make text display in another order than it reads
/// ("Trojan Source", CVE-2021-42574).
fn terminal_hazard(c: char) -> bool {
    (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Every way a run falls short of a clean one, whatever the command: it
/// ended within the CPU budget (and did not hang), did not crash, printed
/// output proportionate to its `input_len`-byte input, and echoed no
/// terminal control character.
fn run_problems(r: &Run, input_len: usize) -> Vec<String> {
    let stderr = r.stderr_text();
    let mut problems = Vec::new();
    if r.killed {
        problems.push(format!("still running after {KILL_AFTER:?}, killed"));
    } else if r.cpu >= BUDGET {
        problems.push(format!("used {:.2?} of CPU time (budget {BUDGET:?})", r.cpu));
    } else if r.elapsed >= HANG {
        problems.push(format!(
            "took {:.2?} of wall time, waiting on something",
            r.elapsed
        ));
    }
    for crash in [
        "panicked",
        "overflowed its stack",
        "fatal runtime error",
        "memory allocation",
    ] {
        if stderr.contains(crash) {
            problems.push(format!("stderr says `{crash}`"));
        }
    }
    // A file must not be able to multiply itself into the CI log.
    let allowed = 4 * input_len + (256 << 10);
    if r.stderr_len + r.stdout_len > allowed {
        problems.push(format!(
            "printed {} bytes for a {input_len}-byte input (allowed {allowed})",
            r.stderr_len + r.stdout_len
        ));
    }
    if let Some(c) = stderr.chars().find(|&c| terminal_hazard(c)) {
        problems.push(format!("echoed the terminal control character {c:?} to stderr"));
    }
    problems
}

/// Every way the build of `file` falls short of a clean refusal.
fn refusal_problems(file: &Path) -> Vec<String> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let mut cmd = meshc();
    cmd.arg("build").arg(file).arg("-o").arg(&out);
    let r = run(cmd);
    let input_len = std::fs::metadata(file).map_or(0, |m| m.len() as usize);
    let mut problems = run_problems(&r, input_len);
    match r.code {
        Some(1) => {}
        Some(101) => problems.push("exit 101: panicked".to_owned()),
        other if !r.killed => {
            problems.push(format!("exit {other:?}, expected 1 (None = killed by a signal)"))
        }
        _ => {}
    }
    if !r.killed && !has_code(&r.stderr_text()) {
        problems.push("no diagnostic code printed".to_owned());
    }
    if out.exists() {
        problems.push("the output directory was created".to_owned());
    }
    problems
}

fn hostile_dir() -> PathBuf {
    root().join("tests/fail/hostile")
}

/// The committed corpus, checked in parallel (two workers: the machines
/// that run this have two cores, and each case starts a process).
#[test]
fn every_hostile_file_is_refused_cleanly() {
    let files = crate::fixtures::topology_files(&hostile_dir());
    assert!(files.len() >= 60, "only {} hostile files", files.len());
    let queue = std::sync::Mutex::new(files.iter());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue").next();
                    let Some(file) = next else { break };
                    let problems = refusal_problems(file);
                    if !problems.is_empty() {
                        let name = file.strip_prefix(root()).unwrap_or(file).display().to_string();
                        failures
                            .lock()
                            .expect("failures")
                            .push(format!("{name}: {}", problems.join("; ")));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().expect("failures");
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} hostile files were not refused cleanly:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// Writes a generated case to a temporary file and checks its refusal.
fn generated(name: &str, text: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join(name);
    std::fs::write(&file, text).expect("write case");
    let problems = refusal_problems(&file);
    assert!(
        problems.is_empty(),
        "generated {name} ({} bytes): {}",
        text.len(),
        problems.join("; ")
    );
}

const MESH: &str = "mesh shop { istio \"1.24\" }\n";
const MB: usize = 1 << 20;

/// The budget is kept in CPU time: a child that sleeps is charged next to
/// nothing however long it takes, one that computes is charged what it
/// computed (at most its wall time, being one thread).
#[test]
fn the_budget_counts_cpu_time_not_wall_time() {
    let sh = |script: &str| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        run(cmd)
    };
    let sleeper = sh("sleep 0.3");
    assert_eq!(sleeper.code, Some(0));
    assert!(
        sleeper.elapsed >= Duration::from_millis(300),
        "{:?}",
        sleeper.elapsed
    );
    assert!(sleeper.cpu < Duration::from_millis(100), "{:?}", sleeper.cpu);
    let busy = sh("i=0; while [ $i -lt 500000 ]; do i=$((i+1)); done");
    assert_eq!(busy.code, Some(0));
    assert!(busy.cpu >= Duration::from_millis(50), "{:?}", busy.cpu);
    // One clock tick of rounding.
    assert!(
        busy.cpu <= busy.elapsed + Duration::from_millis(10),
        "{:?} of CPU in {:?}",
        busy.cpu,
        busy.elapsed
    );
}

#[test]
fn a_one_megabyte_name_on_one_line_kdl() {
    generated(
        "long-line.kdl",
        &format!(
            "{MESH}network \"{}\" {{ cidr \"10.0.0.0/16\" }}\n",
            "a".repeat(MB)
        ),
    );
}

#[test]
fn a_one_megabyte_name_on_one_line_toml() {
    generated(
        "long-line.toml",
        &format!(
            "[mesh]\nname = \"shop\"\nistio = \"1.24\"\n[[network]]\nname = \"{}\"\n",
            "a".repeat(MB)
        ),
    );
}

/// One line of half a million extra arguments: a diagnostic each, all on
/// one line.
#[test]
fn a_one_megabyte_line_of_arguments() {
    generated(
        "long-args.kdl",
        &format!("{MESH}network vpc {}\n", "x ".repeat(MB / 2)),
    );
}

/// 100,000 settings in one block: few diagnostics, so this measures the
/// parser and lowering.
#[test]
fn one_hundred_thousand_nodes_kdl() {
    let mut text = format!("{MESH}network vpc {{\n");
    for _ in 0..100_000 {
        text.push_str("cidr \"10.0.0.0/16\"\n");
    }
    text.push_str("}\nbogus\n");
    generated("100k-nodes.kdl", &text);
}

/// 100,000 declarations, each of which draws a finding.
#[test]
fn one_hundred_thousand_declarations_kdl() {
    let mut text = MESH.to_owned();
    for i in 0..100_000 {
        text.push_str(&format!("namespace n{i}\n"));
    }
    generated("100k-declarations.kdl", &text);
}

#[test]
fn one_hundred_thousand_tables_toml() {
    let mut text = "[mesh]\nname = \"shop\"\nistio = \"1.24\"\nbogus = 1\n".to_owned();
    for i in 0..100_000 {
        text.push_str(&format!("[[namespace]]\nname = \"n{i}\"\n"));
    }
    generated("100k-tables.toml", &text);
}

#[test]
fn nesting_ten_thousand_deep_kdl() {
    generated(
        "deep.kdl",
        &format!("{MESH}{}{}\n", "a {".repeat(10_000), "}".repeat(10_000)),
    );
}

#[test]
fn nesting_ten_thousand_deep_toml_arrays() {
    generated(
        "deep-arrays.toml",
        &format!("x = {}{}\n", "[".repeat(10_000), "]".repeat(10_000)),
    );
}

#[test]
fn nesting_ten_thousand_deep_toml_inline_tables() {
    generated(
        "deep-tables.toml",
        &format!("x = {}1{}\n", "{ a = ".repeat(10_000), " }".repeat(10_000)),
    );
}

#[test]
fn nesting_ten_thousand_deep_toml_dotted_keys() {
    generated(
        "deep-keys.toml",
        &format!("{} = 1\n", vec!["a"; 10_001].join(".")),
    );
}

#[test]
fn nesting_ten_thousand_deep_toml_table_headers() {
    generated(
        "deep-headers.toml",
        &format!("[{}]\n", vec!["a"; 10_001].join(".")),
    );
}

// ---------------------------------------------------------------------
// Input limits.

fn codes(source: &Source, syntax: Syntax, limits: Limits) -> Vec<String> {
    let (_, diags) = meshc::syntax::parse(source, syntax, limits);
    diags.iter().map(|d| d.code.code.to_owned()).collect()
}

fn base_kdl() -> String {
    std::fs::read_to_string(root().join("tests/ok/crlf.kdl"))
        .expect("tests/ok/crlf.kdl")
        .replace("\r\n", "\n")
}

/// E104: `--max-input-size` on `check` and `build`; a file exactly at the
/// limit is read, one byte more is refused before parsing.
#[test]
fn input_size_limit_is_enforced_by_check_and_build() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("topology.kdl");
    let text = base_kdl();
    std::fs::write(&file, &text).expect("write");
    let at = text.len().to_string();
    let below = (text.len() - 1).to_string();
    for sub in ["check", "build"] {
        let out = tmp.path().join(format!("out-{sub}"));
        let with = |limit: &str| {
            let mut cmd = meshc();
            cmd.arg(sub).arg(&file).args(["--max-input-size", limit]);
            if sub == "build" {
                cmd.arg("-o").arg(&out);
            }
            run(cmd)
        };
        let ok = with(&at);
        assert_eq!(ok.code, Some(0), "{sub} at the limit: {}", ok.stderr_text());
        let _ = std::fs::remove_dir_all(&out);
        let refused = with(&below);
        let err = refused.stderr_text();
        assert_eq!(refused.code, Some(1), "{sub} over the limit: {err}");
        assert!(
            err.contains("E104(") && err.contains("larger than the limit"),
            "{err}"
        );
        assert!(!out.exists(), "{sub} wrote output for a refused file");
    }
}

/// E105 for nesting: the limit itself is accepted, one more level is not,
/// in both syntaxes.
///
/// Run on an 8 MiB stack, the main thread's, as in the CLI: in a debug
/// build the `kdl` crate needs about 32 KiB of stack per level, so a
/// document at the default limit (64) overflows the 2 MiB stack of a test
/// thread (or of any `std::thread::spawn`). Reported to the lead; the limit
/// is far above what a topology needs (3 levels).
#[test]
fn depth_limit_is_exact_in_both_syntaxes() {
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(depth_limit_body)
        .expect("spawn")
        .join()
        .expect("depth limit");
}

fn depth_limit_body() {
    let limits = Limits::default();
    let deep = |n: usize| format!("{}{}", "a {".repeat(n), "}".repeat(n));
    let kdl = |n| Source::new("t.kdl", deep(n));
    assert!(!codes(&kdl(limits.max_depth), Syntax::Kdl, limits).contains(&"E105".to_owned()));
    assert_eq!(codes(&kdl(limits.max_depth + 1), Syntax::Kdl, limits), ["E105"]);
    let toml = |n: usize| Source::new("t.toml", format!("x = {}{}", "[".repeat(n), "]".repeat(n)));
    // Nested arrays of scalars are refused by lowering, not here: at the
    // limit the parser only must not report E105.
    assert!(!codes(&toml(limits.max_depth), Syntax::Toml, limits).contains(&"E105".to_owned()));
    assert_eq!(codes(&toml(limits.max_depth + 1), Syntax::Toml, limits), ["E105"]);
    let small = Limits {
        max_depth: 3,
        ..limits
    };
    assert_eq!(codes(&kdl(4), Syntax::Kdl, small), ["E105"]);
}

/// E105 for node count. There is no CLI flag for it, and the default
/// (2,000,000) is only reached by a file of well over 10 MB, so it is tested
/// through the library with a small limit.
#[test]
fn node_limit_is_exact_in_both_syntaxes() {
    let limits = Limits {
        max_nodes: 100,
        ..Limits::default()
    };
    let kdl = |n: usize| Source::new("t.kdl", "n\n".repeat(n));
    assert!(codes(&kdl(100), Syntax::Kdl, limits).is_empty());
    assert_eq!(codes(&kdl(101), Syntax::Kdl, limits), ["E105"]);
    let toml = |n: usize| Source::new("t.toml", "[[n]]\n".repeat(n));
    assert!(codes(&toml(100), Syntax::Toml, limits).is_empty());
    assert_eq!(codes(&toml(101), Syntax::Toml, limits), ["E105"]);
    // Children count too.
    let nested = Source::new("t.kdl", format!("a {{\n{}}}\n", "n\n".repeat(100)));
    assert_eq!(codes(&nested, Syntax::Kdl, limits), ["E105"]);
}

// ---------------------------------------------------------------------
// A BOM and CRLF are fine: they change no byte of the output.

#[test]
fn bom_and_crlf_compile_to_the_same_artifacts() {
    let compile = |path: &str, syntax| {
        let bytes = std::fs::read(root().join(path)).expect("fixture");
        let text = String::from_utf8(bytes).expect("UTF-8");
        let (artifacts, diags) = meshc::compile(&Source::new(path, text), syntax, Limits::default(), "t");
        assert!(diags.is_empty(), "{path}: {diags:?}");
        artifacts.expect("artifacts")
    };
    let plain = {
        let (a, d) = meshc::compile(
            &Source::new("t.kdl", base_kdl()),
            Syntax::Kdl,
            Limits::default(),
            "t",
        );
        assert!(d.is_empty(), "{d:?}");
        a.expect("artifacts")
    };
    assert_eq!(compile("tests/ok/bom.kdl", Syntax::Kdl), plain);
    assert_eq!(compile("tests/ok/crlf.kdl", Syntax::Kdl), plain);
    assert_eq!(compile("tests/ok/crlf.toml", Syntax::Toml), plain);
}

// ---------------------------------------------------------------------
// Hostile YAML given to `meshc import`.

/// Address space a hostile import may use (`ulimit -v`): enough for the
/// debug binary reading a 64 MiB file, far less than an alias bomb expanded
/// to its budget would take if the budget were in nodes alone.
const IMPORT_MEMORY_KIB: u64 = 256 * 1024;

/// What `meshc import FILE -o OUT` should do with a hostile file.
enum Expect {
    /// The file cannot be read in full: the finding `code`, exit 1, and
    /// no topology written (a topology missing that file's objects would
    /// be a partial output).
    Unread(&'static str),
    /// The file is read, with the finding `code`; the topology is written
    /// and judged by check, so the exit is 0 or 1.
    Read(&'static str),
}

/// Every way the import of `text` falls short of a clean answer: within the
/// CPU budget and `IMPORT_MEMORY_KIB`, no panic or abort, the expected
/// code printed, output proportionate, no terminal control echoed, and the
/// topology written or not as `expect` says.
fn import_problems(name: &str, text: &[u8], expect: Expect) -> Vec<String> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join(name);
    std::fs::write(&file, text).expect("write case");
    let out = tmp.path().join("topology.kdl");
    let mut cmd = Command::new("sh");
    // `exec` keeps the pid, so the CPU time read is meshc's own.
    cmd.arg("-c")
        .arg(format!(
            "ulimit -v {IMPORT_MEMORY_KIB} && exec \"$0\" import \"$1\" -o \"$2\""
        ))
        .arg(env!("CARGO_BIN_EXE_meshc"))
        .arg(&file)
        .arg(&out);
    let r = run(cmd);
    let stderr = r.stderr_text();
    let mut problems = run_problems(&r, text.len());
    let (code, written, exits): (&str, bool, &[i32]) = match expect {
        Expect::Unread(code) => (code, false, &[1]),
        Expect::Read(code) => (code, true, &[0, 1]),
    };
    match r.code {
        Some(c) if exits.contains(&c) => {}
        other => problems.push(format!(
            "exit {other:?}, expected one of {exits:?} (None = a signal: out of memory?)"
        )),
    }
    if !stderr.contains(&format!("{code}(")) {
        problems.push(format!(
            "no {code} printed: {}",
            stderr.chars().take(400).collect::<String>()
        ));
    }
    match (written, out.exists()) {
        (true, false) => problems.push("no topology written".to_owned()),
        (false, true) => problems.push("a topology was written from an input read in part".to_owned()),
        _ => {}
    }
    problems
}

/// The billion laughs: nine levels of ten aliases each, 10^9 scalars if
/// expanded.
fn alias_bomb() -> String {
    let mut s = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: laughs}\ndata:\n");
    s.push_str("  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        s.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    s
}

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\n  namespace: shop\nspec:\n  ports:\n  - port: 9080\n    name: http\n";

#[test]
fn hostile_yaml_is_imported_or_refused_cleanly() {
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "alias-bomb.yaml",
            alias_bomb().into_bytes(),
            Expect::Unread("E951"),
        ),
        (
            "hundred-megabytes.yaml",
            format!(
                "{SERVICE}---\nkind: ConfigMap\ndata:\n  k: {}\n",
                "a".repeat(100 * MB)
            )
            .into_bytes(),
            Expect::Unread("E104"),
        ),
        (
            "deep-flow.yaml",
            format!("{}{}\n", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            Expect::Unread("E950"),
        ),
        (
            "deep-block.yaml",
            (0..2_000)
                .map(|i| format!("{}- \n", " ".repeat(i)))
                .collect::<String>()
                .into_bytes(),
            Expect::Unread("E950"),
        ),
        (
            "one-megabyte-key.yaml",
            format!("{SERVICE}{}: 1\n", "k".repeat(MB)).into_bytes(),
            Expect::Unread("E950"),
        ),
        (
            "not-utf8.yaml",
            b"apiVersion: v1\nkind: Service\nmetadata:\n  name: \xff\xfe\x00\n".to_vec(),
            Expect::Unread("E104"),
        ),
        (
            "hundred-thousand-duplicate-keys.yaml",
            format!("{SERVICE}{}", "  name: reviews\n".repeat(100_000)).into_bytes(),
            Expect::Read("E952"),
        ),
        // Distinct keys, read by each YAML reader: finding a repeated key
        // by a search of the keys so far made these quadratic (200k keys
        // took 72 s).
        (
            "hundred-thousand-keys-block.yaml",
            format!(
                "kind: ConfigMap\ndata:\n{}",
                (0..100_000).map(|i| format!("  k{i}: v\n")).collect::<String>()
            )
            .into_bytes(),
            Expect::Read("W950"),
        ),
        (
            "hundred-thousand-keys-flow.yaml",
            format!(
                "kind: ConfigMap\ndata: {{{}}}\n",
                (0..100_000)
                    .map(|i| format!("k{i}: v"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into_bytes(),
            Expect::Read("W950"),
        ),
        (
            "yaml11-booleans-as-names.yaml",
            SERVICE
                .replace("reviews", "on")
                .replace("shop", "no")
                .replace("http", "yes")
                .into_bytes(),
            Expect::Read("W951"),
        ),
        (
            "hundred-thousand-documents.yaml",
            format!("{SERVICE}{}", "---\n".repeat(100_000)).into_bytes(),
            Expect::Read("W952"),
        ),
        (
            "two-hundred-thousand-aliases.yaml",
            format!(
                "{SERVICE}---\nkind: ConfigMap\ndata:\n  a: &x v\n  b: [{}]\n",
                vec!["*x"; 200_000].join(",")
            )
            .into_bytes(),
            Expect::Read("W950"),
        ),
        (
            "terminal-controls-in-names.yaml",
            SERVICE
                .replace("reviews", "\"\\e]0;owned\\a\\e[31mred\\u202e\"")
                .into_bytes(),
            Expect::Read("W952"),
        ),
    ];
    let mut failures = Vec::new();
    for (name, text, expect) in cases {
        let problems = import_problems(name, &text, expect);
        if !problems.is_empty() {
            failures.push(format!("{name}: {}", problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "hostile YAML not handled cleanly:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------
// The writer cannot be tricked.

/// A clean topology in a fresh directory, ready to build.
fn buildable() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("topology.kdl");
    std::fs::write(&file, base_kdl()).expect("write");
    (tmp, file)
}

fn build_into(file: &Path, out: &Path) -> Run {
    let mut cmd = meshc();
    cmd.arg("build").arg(file).arg("-o").arg(out);
    run(cmd)
}

#[test]
fn a_symlink_at_a_generated_file_is_replaced_not_written_through() {
    let (tmp, file) = buildable();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("victim");
    let out = tmp.path().join("out");
    let first = build_into(&file, &out);
    assert_eq!(first.code, Some(0), "{}", first.stderr_text());
    std::fs::remove_file(out.join("vms/db/cluster.env")).expect("rm");
    symlink(&victim, out.join("vms/db/cluster.env")).expect("symlink");
    // A dangling link where a file goes must not create its target either.
    let ghost = tmp.path().join("ghost");
    std::fs::remove_file(out.join("vms/db/install.sh")).expect("rm");
    symlink(&ghost, out.join("vms/db/install.sh")).expect("symlink");
    let r = build_into(&file, &out);
    assert_eq!(r.code, Some(0), "{}", r.stderr_text());
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "precious\n");
    assert!(!ghost.exists(), "wrote through a dangling symlink");
    for f in ["vms/db/cluster.env", "vms/db/install.sh"] {
        let meta = std::fs::symlink_metadata(out.join(f)).expect("generated");
        assert!(meta.file_type().is_file(), "{f} is still a symlink");
    }
}

#[test]
fn a_symlinked_generated_directory_is_replaced_not_written_through() {
    let (tmp, file) = buildable();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    std::fs::write(outside.join("keep"), "keep\n").expect("write");
    let out = tmp.path().join("out");
    let first = build_into(&file, &out);
    assert_eq!(first.code, Some(0), "{}", first.stderr_text());
    for d in ["vms", "kubernetes"] {
        std::fs::remove_dir_all(out.join(d)).expect("rm");
        symlink(&outside, out.join(d)).expect("symlink");
    }
    let r = build_into(&file, &out);
    assert_eq!(r.code, Some(0), "{}", r.stderr_text());
    let names: Vec<_> = std::fs::read_dir(&outside)
        .expect("outside")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["keep"], "something was written outside DIR");
    assert_eq!(
        std::fs::read_to_string(outside.join("keep")).expect("keep"),
        "keep\n"
    );
    for d in ["vms", "kubernetes"] {
        assert!(
            std::fs::symlink_metadata(out.join(d)).expect("dir").is_dir(),
            "{d}"
        );
    }
}

#[test]
fn dir_that_is_a_file_or_the_root_is_a_usage_error() {
    let (tmp, file) = buildable();
    let plain = tmp.path().join("plain");
    std::fs::write(&plain, "not a directory\n").expect("write");
    let r = build_into(&file, &plain);
    assert_eq!(r.code, Some(2), "{}", r.stderr_text());
    assert_eq!(
        std::fs::read_to_string(&plain).expect("plain"),
        "not a directory\n"
    );
    // The root, however it is spelled, including through a symlink.
    let to_root = tmp.path().join("to-root");
    symlink("/", &to_root).expect("symlink");
    for dir in [
        Path::new("/"),
        Path::new("//"),
        Path::new("/tmp/.."),
        to_root.as_path(),
    ] {
        let r = build_into(&file, dir);
        assert_eq!(r.code, Some(2), "-o {}: {}", dir.display(), r.stderr_text());
    }
}

/// `sh -c 'umask U; exec meshc build …'`: the umask must not change a mode.
#[test]
fn modes_are_exact_under_any_umask() {
    for umask in ["000", "077", "022"] {
        let (tmp, file) = buildable();
        let out = tmp.path().join("out");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("umask {umask}; exec \"$0\" build \"$1\" -o \"$2\""))
            .arg(env!("CARGO_BIN_EXE_meshc"))
            .arg(&file)
            .arg(&out);
        let r = run(cmd);
        assert_eq!(r.code, Some(0), "umask {umask}: {}", r.stderr_text());
        let mut seen_script = false;
        for (path, mode, is_dir) in walk(&out) {
            let want = if is_dir || path.ends_with(".sh") {
                0o755
            } else {
                0o644
            };
            seen_script |= path.ends_with(".sh");
            assert_eq!(mode, want, "umask {umask}: {path} has mode {mode:o}");
        }
        assert!(seen_script, "no script generated; the test proves nothing");
    }
}

/// Every entry below `dir`: (relative path, permission bits, is a directory).
pub fn walk(dir: &Path) -> Vec<(String, u32, bool)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let meta = std::fs::symlink_metadata(&p).expect("metadata");
            let rel = p.strip_prefix(dir).expect("below").display().to_string();
            if meta.is_dir() {
                stack.push(p.clone());
            }
            out.push((rel, meta.permissions().mode() & 0o7777, meta.is_dir()));
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------
// The writer never takes over a directory it did not make.

/// Every entry below `dir` with what identifies it: permission bits, inode,
/// and bytes (a file's contents, a symlink's target).
fn state(dir: &Path) -> Vec<(String, u32, u64, Vec<u8>)> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).expect("lstat");
    let mut out = vec![(String::new(), meta.mode(), meta.ino(), Vec::new())];
    for (rel, _, _) in walk(dir) {
        let path = dir.join(&rel);
        let meta = std::fs::symlink_metadata(&path).expect("lstat");
        let bytes = if meta.is_file() {
            std::fs::read(&path).expect("read")
        } else if meta.is_symlink() {
            std::fs::read_link(&path)
                .expect("readlink")
                .as_os_str()
                .as_bytes()
                .to_vec()
        } else {
            Vec::new()
        };
        out.push((rel, meta.mode(), meta.ino(), bytes));
    }
    out
}

fn build_with(file: &Path, out: &Path, flags: &[&str]) -> Run {
    let mut cmd = meshc();
    cmd.arg("build").arg(file).arg("-o").arg(out).args(flags);
    run(cmd)
}

/// `-o pre`, where `pre/` holds a user's file at a path meshc writes and no
/// manifest: refused with exit 2 in every mode, saying how to proceed, and
/// nothing is changed; `--adopt` still never replaces the user's file.
#[test]
fn a_directory_meshc_did_not_make_is_refused() {
    let (tmp, file) = buildable();
    let pre = tmp.path().join("pre");
    std::fs::create_dir_all(pre.join("vms/db")).expect("mkdir");
    std::fs::write(pre.join("vms/db/cluster.env"), "the user's\n").expect("write");
    let before = state(&pre);
    for flags in [&[][..], &["--check"], &["--adopt"], &["--check", "--adopt"]] {
        let r = build_with(&file, &pre, flags);
        let err = r.stderr_text();
        assert_eq!(r.code, Some(2), "{flags:?}: {err}");
        let why = if flags.contains(&"--adopt") {
            "the manifest does not list it"
        } else {
            "--adopt"
        };
        assert!(err.contains(why), "{flags:?}: {err}");
        assert_eq!(state(&pre), before, "{flags:?} changed the directory");
    }
    // Without the conflicting file, adopting keeps the user's other files.
    std::fs::remove_file(pre.join("vms/db/cluster.env")).expect("rm");
    std::fs::write(pre.join("NOTES"), "mine\n").expect("write");
    let r = build_with(&file, &pre, &["--adopt"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr_text());
    assert_eq!(
        std::fs::read_to_string(pre.join("NOTES")).expect("notes"),
        "mine\n"
    );
    // Now it is meshc's: no flag needed.
    let r = build_with(&file, &pre, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr_text());
}

/// `-o /etc`, in a throwaway root: refused, the directory keeps its inode
/// and every file its bytes, mode and inode.
#[test]
fn an_etc_like_tree_is_not_replaced() {
    let (tmp, file) = buildable();
    let etc = tmp.path().join("root/etc");
    for (path, text) in [
        ("passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        ("hosts", "127.0.0.1 localhost\n"),
        ("ssl/certs/ca.pem", "cert\n"),
        ("vms/db/cluster.env", "admin's\n"),
    ] {
        let path = etc.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
    }
    std::fs::set_permissions(etc.join("ssl"), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    symlink("/proc/self/mounts", etc.join("mtab")).expect("symlink");
    let before = state(&tmp.path().join("root"));
    for flags in [&[][..], &["--check"], &["--adopt"]] {
        let r = build_with(&file, &etc, flags);
        assert_eq!(r.code, Some(2), "{flags:?}: {}", r.stderr_text());
        assert_eq!(state(&tmp.path().join("root")), before, "{flags:?}");
    }
}

/// Siblings named like the writer's temporary trees, one holding a
/// manifest: never chmod-ed, never emptied, never deleted.
#[test]
fn decoy_siblings_named_like_temporary_trees_are_not_touched() {
    let (tmp, file) = buildable();
    let out = tmp.path().join("out");
    let decoys = [".out.meshc-abc123", ".out.meshc-XYZ789", ".out.meshc-0"];
    for (i, name) in decoys.iter().enumerate() {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(d.join("vms/db")).expect("mkdir");
        if i == 0 {
            std::fs::write(d.join(".meshc-manifest"), "vms/db/cluster.env\n").expect("write");
            std::fs::write(d.join("vms/db/cluster.env"), "precious\n").expect("write");
        }
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o750)).expect("chmod");
    }
    let before: Vec<_> = decoys.iter().map(|d| state(&tmp.path().join(d))).collect();
    // A first build, then one that changes something (and so swaps and sweeps).
    assert_eq!(build_into(&file, &out).code, Some(0));
    let text = base_kdl().replace("port http 8080", "port http 8081");
    std::fs::write(&file, text).expect("write");
    let r = build_into(&file, &out);
    assert_eq!(r.code, Some(0), "{}", r.stderr_text());
    let after: Vec<_> = decoys.iter().map(|d| state(&tmp.path().join(d))).collect();
    assert_eq!(after, before);
    let mut names: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".out.meshc-0",
            ".out.meshc-XYZ789",
            ".out.meshc-abc123",
            "out",
            "topology.kdl"
        ]
    );
}

// ---------------------------------------------------------------------
// Paths copied into artifacts, special files, and reports that stay small.

/// A topology file whose name holds text-direction and control characters:
/// no generated file contains any of them raw.
#[test]
fn a_hostile_file_name_reaches_no_header_raw() {
    let (tmp, file) = buildable();
    let hostile = tmp
        .path()
        .join("topo\u{202e}lmay.\u{2066}x\u{1b}[31m\u{2028}.kdl");
    std::fs::rename(&file, &hostile).expect("rename");
    let out = tmp.path().join("out");
    let r = build_into(&hostile, &out);
    assert_eq!(r.code, Some(0), "{}", r.stderr_text());
    let mut headers = 0;
    for (rel, _, is_dir) in walk(&out) {
        if is_dir {
            continue;
        }
        let text = std::fs::read_to_string(out.join(&rel)).expect("read");
        headers += usize::from(text.contains("Code generated by meshc from topo\\u{202e}"));
        let bad = text
            .chars()
            .find(|&c| (terminal_hazard(c) && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}'));
        assert_eq!(bad, None, "{rel} holds a raw {bad:?}");
    }
    assert!(headers >= 10, "only {headers} headers name the file");
}

/// A FIFO with no writer, and a character device, are refused at once with
/// exit 2 by every command that reads a topology; nothing is written.
#[test]
fn special_files_as_input_are_refused_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fifo = tmp.path().join("topology.kdl");
    let made = Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let out = tmp.path().join("out");
    for input in [fifo.as_path(), Path::new("/dev/zero")] {
        for sub in [&["build", "-o"][..], &["check"], &["fmt"], &["graph"]] {
            let mut cmd = meshc();
            cmd.arg(sub[0]).arg(input);
            if sub.len() > 1 {
                cmd.arg(sub[1]).arg(&out);
            }
            let r = run(cmd);
            let err = r.stderr_text();
            assert!(!r.killed, "{sub:?} {}: hung", input.display());
            assert_eq!(r.code, Some(2), "{sub:?} {}: {err}", input.display());
            assert!(r.cpu < BUDGET, "{sub:?}: used {:?} of CPU time", r.cpu);
            assert!(r.elapsed < HANG, "{sub:?}: took {:?}", r.elapsed);
            assert!(err.contains("not a regular file"), "{err}");
            assert!(r.stderr_len < 1024, "{err}");
            assert!(!out.exists());
        }
    }
}

/// A giant value quoted by a diagnostic, and a flood of findings: stderr
/// stays within a few KB beyond the 50 diagnostics shown, whatever the
/// input's size, in bounded time, and nothing is written.
fn bounded_report(name: &str, text: &str, max_stderr: usize) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join(name);
    std::fs::write(&file, text).expect("write case");
    let out = tmp.path().join("out");
    let r = build_into(&file, &out);
    assert_eq!(r.code, Some(1), "{}", r.stderr_text());
    assert!(has_code(&r.stderr_text()));
    assert!(
        r.stderr_len + r.stdout_len <= max_stderr,
        "{name}: printed {} bytes (allowed {max_stderr}) for {} bytes of input",
        r.stderr_len + r.stdout_len,
        text.len()
    );
    assert!(r.cpu < 4 * BUDGET, "{name}: used {:?} of CPU time", r.cpu);
    assert!(r.elapsed < HANG, "{name}: took {:?}", r.elapsed);
    assert!(!out.exists());
}

#[test]
fn a_giant_ssh_value_gives_a_small_report() {
    let huge = "a".repeat(8 * MB);
    // The host part: a rule quoted it in full after the shortened value.
    let text = base_kdl().replace("ssh \"root@10.0.1.5\"", &format!("ssh \"root@{huge}\""));
    assert!(text.len() > 8 * MB);
    bounded_report("ssh.kdl", &text, 16 << 10);
}

#[test]
fn one_hundred_thousand_duplicate_services_give_a_bounded_report() {
    let mut text = base_kdl();
    for _ in 0..100_000 {
        text.push_str("service web { port http 8080; deploy v1 cluster=prod }\n");
    }
    // 50 diagnostics of a few hundred bytes each, and a summary.
    bounded_report("dup.kdl", &text, 64 << 10);
}
