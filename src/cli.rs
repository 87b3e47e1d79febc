//! The command line: flags, file I/O, printing, exit codes.
//!
//! This is the only module that reads the environment, touches files (with
//! `write`), or prints. Everything it calls is a pure function of its
//! arguments.

// The CLI is the one place that reads the environment.
#![allow(clippy::disallowed_methods)]

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::{self, Diagnostic, codes, render};
use crate::source::{Source, Span};
use crate::syntax::{Limits, Syntax};

/// `print!` that never panics: when whoever reads standard output has gone
/// (`meshc explain | head -1`), the rest of the output is dropped quietly,
/// where `print!` would panic on the broken pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod atomic_file;
mod import;
mod plan;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (warnings allowed unless --deny-warnings)
  1  the topology has errors, or the output directory is stale
  2  usage error, or a file could not be read or written";

const WHY_EXIT_CODES: &str = "\
Exit codes:
  0  FROM reaches TO (every FROM workload has an open path)
  1  FROM does not reach TO
  2  usage error, a file that cannot be read, or a topology with errors";

/// The exit code of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    Ok = 0,
    Findings = 1,
    Usage = 2,
}

#[derive(Parser, Debug)]
#[command(
    name = "meshc",
    version,
    about = "A declarative mesh-topology compiler for Istio mesh expansion",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour in human diagnostics: `auto` colours a terminal unless NO_COLOR
    /// is set (CLICOLOR_FORCE colours a pipe too); `always` and `never` win
    /// over both variables
    #[arg(long, value_enum, global = true, default_value_t, value_name = "WHEN")]
    color: ColorChoice,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    /// Colour when stderr is a terminal and NO_COLOR is not set, or when
    /// CLICOLOR_FORCE is set
    #[default]
    Auto,
    /// Always colour
    Always,
    /// Never colour
    Never,
}

/// The `--color` of this run (`ColorChoice` as a number), read by
/// [`color_wanted`]: set once at the start of [`run`], before anything prints.
static COLOR: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(ColorChoice::Auto as u8);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Graphical report for people
    #[default]
    Human,
    /// One JSON array of diagnostics
    Json,
    /// SARIF 2.1.0, for code-scanning tools
    Sarif,
    /// GitHub Actions workflow commands
    Github,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    /// Graphviz DOT
    #[default]
    Dot,
    /// Mermaid flowchart
    Mermaid,
}

#[derive(clap::Args, Debug)]
struct InputArgs {
    /// Largest topology file accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024)]
    max_input_size: u64,
    /// Treat warnings as errors (exit 1)
    #[arg(long)]
    deny_warnings: bool,
    /// The name of the topology read from standard input (FILE `-`): its
    /// extension picks the syntax (.kdl or .toml), and diagnostics and the
    /// generated files' headers use it
    #[arg(long, value_name = "NAME")]
    stdin_filename: Option<String>,
    /// Do not report this warning (a code such as W901, or its name);
    /// repeat for several. Errors cannot be allowed
    #[arg(long = "allow", value_name = "CODE")]
    allow: Vec<String>,
}

impl InputArgs {
    /// The codes `--allow` names, or the usage error for a code that does
    /// not exist or is an error: meshc never writes output from a topology
    /// with errors, so no error can be silenced.
    fn allowed(&self) -> Result<Vec<&'static str>, String> {
        let catalogue = crate::check::catalogue();
        let mut codes = Vec::new();
        for word in &self.allow {
            let Some(code) = catalogue
                .iter()
                .find(|c| c.code.eq_ignore_ascii_case(word) || c.name == word)
            else {
                let names = catalogue.iter().flat_map(|c| [c.code, c.name]);
                let hint = diagnostic::suggest(word, names)
                    .map(|s| format!(" (did you mean {s}?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "meshc: --allow {word}: no diagnostic code `{word}`{hint}; `meshc explain` lists them all"
                ));
            };
            if code.severity == diagnostic::Severity::Error {
                return Err(format!(
                    "meshc: --allow {word}: {} ({}) is an error, and only warnings can be allowed: meshc never writes output from a topology with errors; fix what it reports (`meshc explain {}`)",
                    code.code, code.name, code.code
                ));
            }
            codes.push(code.code);
        }
        Ok(codes)
    }
}

/// Drops the diagnostics whose code `--allow` names.
fn drop_allowed(diags: &mut Vec<Diagnostic>, allowed: &[&str]) {
    if !allowed.is_empty() {
        diags.retain(|d| !allowed.contains(&d.code.code));
    }
}

#[derive(clap::Args, Debug)]
struct DiagnosticArgs {
    /// How diagnostics are printed
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate topologies without writing anything
    #[command(after_help = EXIT_CODES)]
    Check {
        /// Topology files (.kdl, or .toml for the TOML form; `-` reads
        /// standard input)
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        output: DiagnosticArgs,
    },
    /// Compile a topology and write every artifact into DIR
    #[command(after_help = EXIT_CODES)]
    Build {
        /// Topology file (.kdl, or .toml for the TOML form; `-` reads
        /// standard input)
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Output directory (meshc only ever changes the files it wrote there)
        #[arg(short, long, value_name = "DIR")]
        out: PathBuf,
        /// Write nothing; exit 1 when DIR is not up to date, with a diff (or,
        /// with --format, one finding E001 per stale file)
        #[arg(long)]
        check: bool,
        /// Add meshc's files to a DIR that is not empty and that meshc did
        /// not make (no .meshc-manifest); a file meshc did not write is
        /// still never replaced
        #[arg(long)]
        adopt: bool,
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        output: DiagnosticArgs,
    },
    /// Draw the topology (Graphviz DOT or Mermaid), highlighting what checks flagged
    #[command(after_help = EXIT_CODES)]
    Graph {
        /// Topology file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Output format
        #[arg(long, value_enum, default_value_t)]
        format: GraphFormat,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Say whether FROM can reach TO and through what, or which link is missing
    #[command(after_help = WHY_EXIT_CODES)]
    Why {
        /// Topology file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The caller: SERVICE[.NAMESPACE][@VERSION], or a VM (vm:NAME)
        #[arg(value_name = "FROM")]
        from: String,
        /// The callee: SERVICE[.NAMESPACE][@VERSION], or a VM (vm:NAME)
        #[arg(value_name = "TO")]
        to: String,
        /// Output format
        #[arg(long, value_enum, default_value_t)]
        format: crate::why::Format,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Format a KDL topology canonically, keeping every comment (KDL only)
    #[command(after_help = EXIT_CODES)]
    Fmt {
        /// KDL topology files (a `.toml` file is refused)
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Write nothing; exit 1 when a file is not formatted
        #[arg(long)]
        check: bool,
    },
    /// Write a minimal, commented starter topology (or a full example)
    #[command(after_help = EXIT_CODES)]
    Init {
        /// Directory to write topology.kdl into
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Write a complete example instead of the starter
        #[arg(long, value_enum)]
        example: Option<Example>,
    },
    /// Show what a change does to the mesh, against the committed output
    /// (-o DIR), an older topology (--base) or a git revision (--base-rev)
    #[command(after_help = plan::PLAN_EXIT_CODES)]
    Plan(Box<plan::PlanArgs>),
    /// Read an existing mesh's YAML and VM files (or meshc's output) and write the topology they describe
    #[command(after_help = import::IMPORT_EXIT_CODES)]
    Import(Box<import::ImportArgs>),
    /// Print the iptables rules istio-iptables would install for these flags
    #[command(after_help = EXIT_CODES)]
    Iptables(Box<crate::iptables::IptablesArgs>),
    /// Print a shell completion script
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// List every diagnostic code, or print the documentation of one
    Explain {
        /// A code such as E301 (or its name, such as unknown-reference)
        code: Option<String>,
    },
}

/// Entry point used by `main`: parses `args`, runs, prints, returns the exit
/// code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with exit 0, usage
            // errors to stderr with exit 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    COLOR.store(cli.color as u8, std::sync::atomic::Ordering::Relaxed);
    let exit = match cli.command {
        Command::Check { files, input, output } => check(&files, &input, output.format),
        Command::Explain { code } => explain(code.as_deref()),
        Command::Build {
            file,
            out,
            check,
            adopt,
            input,
            output,
        } => {
            let adopt = if adopt {
                crate::write::Adopt::Yes
            } else {
                crate::write::Adopt::No
            };
            build(&file, &out, check, adopt, &input, output.format)
        }
        Command::Graph { file, format, input } => graph(&file, format, &input),
        Command::Why {
            file,
            from,
            to,
            format,
            input,
        } => why(&file, &from, &to, format, &input),
        Command::Fmt { files, check } => fmt(&files, check),
        Command::Init { dir, example } => init(&dir, example),
        Command::Plan(args) => plan::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Iptables(args) => match args.to_config() {
            Ok((config, flavor)) => {
                let rules = crate::iptables::generate(&config, flavor);
                out!("{}{}", rules.v4, rules.v6.unwrap_or_default());
                Exit::Ok
            }
            Err(e) => {
                eprintln!("meshc iptables: {e}");
                Exit::Usage
            }
        },
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "meshc", &mut std::io::stdout());
            Exit::Ok
        }
    };
    exit as i32
}

/// Why a file could not be turned into a `Source`.
enum ReadError {
    /// Not a topology we can read: reported as a diagnostic (exit 1).
    Unreadable(Box<(Source, Diagnostic)>),
    /// An I/O problem: reported as a message (exit 2).
    Io(String),
}

/// The most bytes an input may have, and what a user can do about a file
/// that is refused.
#[derive(Clone, Copy)]
struct Limit {
    bytes: u64,
    /// Help for a file over the limit.
    too_large: &'static str,
    /// Help for a file that is not UTF-8.
    not_utf8: &'static str,
}

impl Limit {
    /// A topology, under `--max-input-size`.
    fn topology(bytes: u64) -> Limit {
        Limit {
            bytes,
            too_large: "raise the limit with --max-input-size BYTES if the file really is a topology",
            not_utf8: "save the topology as UTF-8 text",
        }
    }

    /// A topology that `meshc fmt` reads (it has no `--max-input-size`).
    const FMT: Limit = Limit {
        bytes: 64 * 1024 * 1024,
        too_large: "a topology this large is not one to format by hand; check it with `meshc check --max-input-size BYTES`",
        not_utf8: "save the topology as UTF-8 text",
    };
}

/// FILE `-`: standard input.
fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The name standard input goes by when `--stdin-filename` is not given.
const STDIN_NAME: &str = "<stdin>";

/// `--stdin-filename` names standard input, so it needs exactly one FILE
/// `-`; standard input can be read only once.
fn stdin_usage(files: &[PathBuf], input: &InputArgs) -> Result<(), String> {
    match (files.iter().filter(|p| is_stdin(p)).count(), &input.stdin_filename) {
        (0, Some(_)) => Err(
            "meshc: --stdin-filename names standard input, but no FILE is `-` (write `-` to read the topology from standard input)"
                .to_owned(),
        ),
        (n, _) if n > 1 => Err("meshc: FILE `-` (standard input) is given more than once; it can be read only once".to_owned()),
        _ => Ok(()),
    }
}

/// Reads a topology: from standard input for FILE `-` (named by
/// `--stdin-filename`), else from the file.
fn read_input(path: &Path, input: &InputArgs) -> Result<Source, ReadError> {
    if !is_stdin(path) {
        return read_source(path, Limit::topology(input.max_input_size));
    }
    let name = input
        .stdin_filename
        .clone()
        .unwrap_or_else(|| STDIN_NAME.to_owned());
    let mut bytes = Vec::new();
    // The same bound as for a file: a pipe that never ends is cut off.
    std::io::stdin()
        .lock()
        .take(input.max_input_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Io(format!("meshc: cannot read standard input: {e}")))?;
    source_from_bytes(name, bytes, Limit::topology(input.max_input_size))
}

fn read_source(path: &Path, limit: Limit) -> Result<Source, ReadError> {
    let name = path.display().to_string();
    let meta =
        std::fs::metadata(path).map_err(|e| ReadError::Io(format!("meshc: cannot read {name}: {e}")))?;
    if !meta.is_file() {
        return Err(not_regular(&name, &meta));
    }
    read_regular_source(path, limit)
}

fn not_regular(name: &str, meta: &std::fs::Metadata) -> ReadError {
    let what = if meta.is_dir() {
        "it is a directory"
    } else {
        "it is not a regular file (a FIFO, socket or device would block or never end)"
    };
    ReadError::Io(format!("meshc: cannot read {name}: {what}"))
}

/// [`read_source`] for a path already known to be a regular file (a
/// directory entry's type said so): one `open`, one `fstat`, and a read
/// into a buffer of the file's size.
fn read_regular_source(path: &Path, limit: Limit) -> Result<Source, ReadError> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| ReadError::Io(format!("meshc: cannot read {name}: {e}"));
    // Opened without blocking, in case the path was replaced by a FIFO since
    // the check (opening a FIFO with no writer waits forever otherwise), and
    // checked again on the open file, which is what is read.
    let file = open_nonblocking(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular(&name, &meta));
    }
    // A file over the limit is refused before it is read: reading it would
    // hold as many bytes as it has, whatever the limit says.
    if meta.len() > limit.bytes {
        return Err(too_large(name, limit));
    }
    // Room for the whole file and one byte more, so that the read that
    // finds the end needs no growth: the text keeps no spare capacity (up
    // to half of each file, doubling from empty) and is copied once; `take`
    // still bounds a file that grows meanwhile.
    let size = usize::try_from(meta.len()).unwrap_or(0);
    let mut bytes = vec![0; size.saturating_add(1)];
    // One `read` asking for a byte more than `fstat` gave: a read that ends
    // at that size is the file's end (no second read to find it: 47k files
    // at 10k). A file that changed meanwhile is read on to its end.
    let n = loop {
        match (&file).read(&mut bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            read => break read.map_err(io)?,
        }
    };
    bytes.truncate(n);
    if n != size {
        (&file)
            .take(limit.bytes.saturating_add(1).saturating_sub(n as u64))
            .read_to_end(&mut bytes)
            .map_err(io)?;
    }
    source_from_bytes(name, bytes, limit)
}

/// The diagnostic for an input over `limit`.
fn too_large(name: String, limit: Limit) -> ReadError {
    let diag = Diagnostic::new(
        &codes::UNREADABLE_INPUT,
        Span::file_start(),
        format!("the file is larger than the limit of {} bytes", limit.bytes),
    )
    .help(limit.too_large);
    ReadError::Unreadable(Box::new((Source::new(name, ""), diag)))
}

/// The bytes read as a `Source`, or the diagnostic that says why not (too
/// large, not UTF-8).
fn source_from_bytes(name: String, bytes: Vec<u8>, limit: Limit) -> Result<Source, ReadError> {
    if bytes.len() as u64 > limit.bytes {
        return Err(too_large(name, limit));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source::new(name, text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // Offsets in the lossy text shift after the first bad byte; the
            // position of that byte itself is still right.
            let diag = Diagnostic::new(
                &codes::UNREADABLE_INPUT,
                Span::new(at, at + 1),
                "the file is not valid UTF-8",
            )
            .label("invalid byte here")
            .help(limit.not_utf8);
            Err(ReadError::Unreadable(Box::new((Source::new(name, text), diag))))
        }
    }
}

/// Opens `path` for reading with `O_NONBLOCK` where the flag's value is
/// known (it changes nothing for a regular file), so that opening a FIFO
/// cannot hang.
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        use std::os::unix::fs::OpenOptionsExt;
        const O_NONBLOCK: i32 = 0o4000;
        options.custom_flags(O_NONBLOCK);
    }
    options.open(path)
}

/// Checks one file: its source and findings (a file that is too large or
/// not UTF-8 is a finding), or the message of the I/O error that kept it
/// from being read.
///
/// `meshc check` needs only the findings. The checked model of every file
/// but the `last` is freed here, before the next file is read; the last
/// one's is left to the process's exit, which is near: freeing it walks
/// every declaration once more, and at 20k services that walk is mostly
/// cache misses (PERFORMANCE.md, "check's model left to the exit").
fn check_file(path: &Path, input: &InputArgs, last: bool) -> Result<(Source, Vec<Diagnostic>), String> {
    match read_input(path, input) {
        Ok(source) => {
            let syntax = Syntax::from_path(&source.name);
            let (checked, diags) = crate::check_source(&source, syntax, Limits::default());
            if last {
                std::mem::forget(checked);
            }
            Ok((source, diags))
        }
        Err(ReadError::Unreadable(b)) => Ok((b.0, vec![b.1])),
        Err(ReadError::Io(msg)) => Err(msg),
    }
}

/// Whether human diagnostics are coloured. Precedence: `--color always` or
/// `never`; then NO_COLOR (set and not empty: no colour); then
/// CLICOLOR_FORCE (set, not empty and not `0`: colour); then whether stderr
/// is a terminal.
fn color_wanted() -> bool {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    match COLOR.load(std::sync::atomic::Ordering::Relaxed) {
        c if c == ColorChoice::Always as u8 => true,
        c if c == ColorChoice::Never as u8 => false,
        _ if set("NO_COLOR").is_some() => false,
        _ if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
        _ => std::io::stderr().is_terminal(),
    }
}

/// At most this many diagnostics are shown per file (the first ones in
/// source order): a hostile or badly broken file must not produce
/// gigabytes of output, and nobody reads past the first screens anyway.
const MAX_SHOWN_HUMAN: usize = 50;
const MAX_SHOWN_MACHINE: usize = 1000;

/// Prints every file's diagnostics in the chosen format.
fn print_diagnostics(results: &[(Source, Vec<Diagnostic>)], format: Format) {
    let cap = if format == Format::Human {
        MAX_SHOWN_HUMAN
    } else {
        MAX_SHOWN_MACHINE
    };
    // Only what is shown is put in the file's own syntax: a TOML topology
    // gets its help in TOML (a rewrite that costs a parse per code span, so
    // never paid for the diagnostics past the cap).
    let shown: Vec<(&Source, Vec<Diagnostic>)> = results
        .iter()
        .map(|(s, d)| {
            let mut shown = d[..d.len().min(cap)].to_vec();
            if Syntax::from_path(&s.name) == Syntax::Toml {
                crate::diagnostic::toml_help::to_toml(&mut shown);
            }
            (s, shown)
        })
        .collect();
    let files: Vec<(&Source, &[Diagnostic])> = shown.iter().map(|(s, d)| (*s, d.as_slice())).collect();
    if format != Format::Human {
        for (source, diags) in results.iter().filter(|(_, d)| d.len() > cap) {
            eprintln!(
                "{}; only the first {cap} are shown",
                render::summary(diags, source)
            );
        }
    }
    let mut out = std::io::stdout().lock();
    let text = match format {
        Format::Human => {
            let color = color_wanted();
            let mut err = std::io::stderr().lock();
            for ((source, shown), (_, all)) in files.iter().zip(results) {
                if !shown.is_empty() {
                    let _ = write!(err, "{}", render::human(shown, source, color));
                }
                let more = all.len() - shown.len();
                let note = if more > 0 {
                    format!(" ({more} more not shown)")
                } else {
                    String::new()
                };
                let _ = writeln!(err, "{}{note}", render::summary(all, source));
            }
            return;
        }
        Format::Json => render::json(&files),
        Format::Sarif => render::sarif(&files),
        Format::Github => files.iter().map(|(s, d)| render::github(d, s)).collect(),
    };
    let _ = out.write_all(text.as_bytes());
}

fn verdict(diags: &[Diagnostic], deny_warnings: bool) -> Exit {
    if diags.iter().any(|d| d.is_error() || deny_warnings) {
        Exit::Findings
    } else {
        Exit::Ok
    }
}

fn check(files: &[PathBuf], input: &InputArgs, format: Format) -> Exit {
    if let Err(msg) = stdin_usage(files, input) {
        eprintln!("{msg}");
        return Exit::Usage;
    }
    let allowed = match input.allowed() {
        Ok(allowed) => allowed,
        Err(msg) => {
            eprintln!("{msg}");
            return Exit::Usage;
        }
    };
    let mut results = Vec::new();
    let mut io_failed = false;
    for (i, path) in files.iter().enumerate() {
        match check_file(path, input, i + 1 == files.len()) {
            Ok(mut r) => {
                drop_allowed(&mut r.1, &allowed);
                results.push(r);
            }
            Err(msg) => {
                eprintln!("{msg}");
                io_failed = true;
            }
        }
    }
    print_diagnostics(&results, format);
    let all: Vec<Diagnostic> = results.into_iter().flat_map(|(_, d)| d).collect();
    if io_failed {
        Exit::Usage
    } else {
        verdict(&all, input.deny_warnings)
    }
}

fn explain(code: Option<&str>) -> Exit {
    let catalogue = crate::check::catalogue();
    let Some(code) = code else {
        let mut out = String::new();
        for c in &catalogue {
            out.push_str(&format!("{}\t{}\t{}\n", c.code, c.severity.as_str(), c.summary));
        }
        out!("{out}");
        return Exit::Ok;
    };
    match catalogue
        .iter()
        .find(|c| c.code.eq_ignore_ascii_case(code) || c.name == code)
    {
        Some(c) => {
            out!(
                "{} ({}): {}\nseverity: {}\n\n{}",
                c.code,
                c.name,
                c.summary,
                c.severity.as_str(),
                c.doc_text()
            );
            Exit::Ok
        }
        None => {
            let names = catalogue.iter().flat_map(|c| [c.code, c.name]);
            let hint = diagnostic::suggest(code, names)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            eprintln!("meshc: no diagnostic code `{code}`{hint}; `meshc explain` lists them all");
            Exit::Usage
        }
    }
}

fn why(path: &Path, from: &str, to: &str, format: crate::why::Format, input: &InputArgs) -> Exit {
    let source = match read_source(path, Limit::topology(input.max_input_size)) {
        Ok(source) => source,
        Err(ReadError::Unreadable(b)) => {
            print_diagnostics(&[(b.0, vec![b.1])], Format::Human);
            return Exit::Usage;
        }
        Err(ReadError::Io(msg)) => {
            eprintln!("{msg}");
            return Exit::Usage;
        }
    };
    match crate::why::answer(&source, from, to, format) {
        Ok((text, reachable)) => {
            out!("{text}");
            if reachable { Exit::Ok } else { Exit::Findings }
        }
        Err(crate::why::Failure::Topology(diags)) => {
            print_diagnostics(&[(source, diags)], Format::Human);
            Exit::Usage
        }
        Err(crate::why::Failure::Usage(msg)) => {
            eprintln!("meshc why: {msg}");
            Exit::Usage
        }
    }
}

/// The one topology a command reads (a path, or `-` for standard input),
/// with the `--allow` codes; or, having said why not, the exit code.
fn read_one(path: &Path, input: &InputArgs, format: Format) -> Result<(Source, Vec<&'static str>), Exit> {
    let allowed = stdin_usage(std::slice::from_ref(&path.to_path_buf()), input)
        .and_then(|()| input.allowed())
        .map_err(|msg| {
            eprintln!("{msg}");
            Exit::Usage
        })?;
    match read_input(path, input) {
        Ok(source) => Ok((source, allowed)),
        Err(ReadError::Unreadable(b)) => {
            print_diagnostics(&[(b.0, vec![b.1])], format);
            Err(Exit::Findings)
        }
        Err(ReadError::Io(msg)) => {
            eprintln!("{msg}");
            Err(Exit::Usage)
        }
    }
}

fn graph(path: &Path, format: GraphFormat, input: &InputArgs) -> Exit {
    let (source, allowed) = match read_one(path, input, Format::Human) {
        Ok(read) => read,
        Err(exit) => return exit,
    };
    let (topology, mut diags) = crate::front_end(&source, Syntax::from_path(&source.name), Limits::default());
    let Some(mut topology) = topology else {
        print_diagnostics(&[(source, diags)], Format::Human);
        return Exit::Findings;
    };
    let allows = std::mem::take(&mut topology.allows);
    let mut analysis = crate::check::analyze(topology);
    diags.append(&mut analysis.diagnostics);
    diagnostic::sort(&mut diags);
    crate::check::allow::apply(&allows, &mut diags);
    drop_allowed(&mut diags, &allowed);
    analysis.diagnostics = diags;
    let text = match format {
        GraphFormat::Dot => crate::emit::graph::dot(&analysis),
        GraphFormat::Mermaid => crate::emit::graph::mermaid(&analysis),
    };
    out!("{text}");
    // The picture is drawn either way; findings still set the exit code so
    // that scripts notice them.
    let exit = verdict(&analysis.diagnostics, input.deny_warnings);
    if !analysis.diagnostics.is_empty() {
        print_diagnostics(
            &[(source, std::mem::take(&mut analysis.diagnostics))],
            Format::Human,
        );
    }
    exit
}

fn fmt(files: &[PathBuf], check: bool) -> Exit {
    let mut exit = Exit::Ok;
    for path in files {
        if crate::syntax::Syntax::from_path(&path.to_string_lossy()) == crate::syntax::Syntax::Toml {
            // Its comments would not survive a TOML round trip: refuse once,
            // rather than report the TOML as a hundred KDL errors.
            eprintln!(
                "meshc: {} is TOML; `meshc fmt` formats KDL topologies only, and leaves TOML files as they are",
                path.display()
            );
            exit = Exit::Usage;
            continue;
        }
        let source = match read_source(path, Limit::FMT) {
            Ok(s) => s,
            Err(ReadError::Unreadable(b)) => {
                print_diagnostics(&[(b.0, vec![b.1])], Format::Human);
                exit = exit.max(Exit::Findings);
                continue;
            }
            Err(ReadError::Io(msg)) => {
                eprintln!("{msg}");
                exit = Exit::Usage;
                continue;
            }
        };
        match crate::syntax::format::format_kdl(&source) {
            Ok(formatted) if formatted == source.text => {}
            Ok(formatted) if check => {
                let diff = similar::TextDiff::from_lines(&source.text, &formatted)
                    .unified_diff()
                    .header(&source.name, &format!("{} (formatted)", source.name))
                    .to_string();
                out!("{diff}");
                exit = exit.max(Exit::Findings);
            }
            Ok(formatted) => {
                if let Err(e) = atomic_file::write(path, &formatted, atomic_file::Existing::Replace) {
                    eprintln!("meshc: cannot write {}: {e}", path.display());
                    exit = Exit::Usage;
                } else {
                    eprintln!("formatted {}", source.name);
                }
            }
            Err(diags) => {
                print_diagnostics(&[(source, diags)], Format::Human);
                exit = exit.max(Exit::Findings);
            }
        }
    }
    exit
}

/// pre-commit sets `PRE_COMMIT=1` in the environment of every hook it runs.
fn under_pre_commit() -> bool {
    std::env::var_os("PRE_COMMIT").is_some_and(|v| v == "1")
}

/// The examples `meshc init --example` writes.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Example {
    /// Bookinfo with details and MariaDB on VMs (Istio 1.24)
    Bookinfo,
    /// The Istio 1.0 mesh-expansion walkthrough of Bookinfo
    BookinfoLegacy,
    /// Two clusters on two networks and VMs on a third
    Multicluster,
}

impl Example {
    fn text(self) -> &'static str {
        match self {
            Example::Bookinfo => include_str!("../examples/bookinfo-vm/topology.kdl"),
            Example::BookinfoLegacy => include_str!("../examples/bookinfo-legacy/topology.kdl"),
            Example::Multicluster => include_str!("../examples/multicluster/topology.kdl"),
        }
    }
}

/// The topology `meshc init` writes without `--example`: one cluster, one
/// VM, two services, every line commented.
const STARTER: &str = include_str!("starter.kdl");

fn init(dir: &Path, example: Option<Example>) -> Exit {
    let text = example.map_or(STARTER, Example::text);
    let path = dir.join("topology.kdl");
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("meshc: cannot create {}: {e}", dir.display());
        return Exit::Usage;
    }
    // create_new: never clobber a topology that is already there.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path);
    match file.and_then(|mut f| f.write_all(text.as_bytes())) {
        Ok(()) => {
            eprintln!(
                "wrote {}; next: meshc check {0} and meshc build {0} -o out/",
                path.display()
            );
            Exit::Ok
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!("meshc: {} already exists; not overwriting it", path.display());
            Exit::Usage
        }
        Err(e) => {
            eprintln!("meshc: cannot write {}: {e}", path.display());
            Exit::Usage
        }
    }
}

fn build(
    path: &Path,
    out: &Path,
    check_only: bool,
    adopt: crate::write::Adopt,
    input: &InputArgs,
    format: Format,
) -> Exit {
    let (source, allowed) = match read_one(path, input, format) {
        Ok(read) => read,
        Err(exit) => return exit,
    };
    // Headers name the file alone, so the output does not depend on the
    // directory meshc was run from (from standard input: the base name of
    // --stdin-filename).
    let named = if is_stdin(path) {
        Path::new(&source.name)
    } else {
        path
    };
    let base = named
        .file_name()
        .map_or_else(|| source.name.clone(), |n| n.to_string_lossy().into_owned());
    // The output directory is surveyed on a second thread while the topology
    // is checked: the two are independent, and on a rebuild the survey is a
    // large part of the writer's work. Each artifact is then compared with
    // the surveyed file at its path as soon as it is emitted, and only its
    // path kept if they are the same (`write::Comparer`), so a rebuild holds
    // only what changed. It only reads; the writer re-checks the survey
    // under its lock, and emits again what it needs whole if it cannot use
    // the comparisons.
    let syntax = Syntax::from_path(&source.name);
    let ((checked, diags, kept), comparer) = crate::write::Comparer::surveying(out, |comparer| {
        let (checked, mut diags) = crate::check_source(&source, syntax, Limits::default());
        drop_allowed(&mut diags, &allowed);
        let kept = checked
            .as_ref()
            .filter(|_| verdict(&diags, input.deny_warnings) == Exit::Ok)
            .map(|checked| crate::emit::each(checked, &base, comparer));
        (checked, diags, kept)
    });
    let emitted = checked
        .zip(kept)
        .map(|(checked, kept)| (checked, comparer.finish(kept)));
    let verdict = verdict(&diags, input.deny_warnings);
    // Human diagnostics come first, on stderr. A machine format is one
    // document on stdout, printed once at the end: the topology's findings,
    // then (with --check) one per stale file; a clean run prints an empty
    // one (`[]`, a SARIF log without results).
    let mut report = vec![(source, diags)];
    if format == Format::Human {
        if !report[0].1.is_empty() {
            print_diagnostics(&report, format);
        }
        report.clear();
    }
    let exit = build_or_check(
        path,
        out,
        check_only,
        adopt,
        emitted,
        &base,
        verdict,
        format,
        &mut report,
    );
    if format != Format::Human {
        print_diagnostics(&report, format);
    }
    exit
}

/// The part of `build` after compiling: write DIR, or compare it. Stale
/// files are added to `report` as findings (E001) in the machine formats.
#[allow(clippy::too_many_arguments)]
fn build_or_check(
    path: &Path,
    out: &Path,
    check_only: bool,
    adopt: crate::write::Adopt,
    emitted: Option<(crate::check::Checked, crate::write::Compared)>,
    source_name: &str,
    verdict: Exit,
    format: Format,
    report: &mut Vec<(Source, Vec<Diagnostic>)>,
) -> Exit {
    let Some((checked, compared)) = emitted.filter(|_| verdict == Exit::Ok) else {
        eprintln!("meshc: nothing written to {}", out.display());
        return Exit::Findings;
    };
    let rebuild = format!("meshc build {} -o {}", path.display(), out.display());
    let files = compared.len();
    // A build that compared nothing (a fresh one) never emits again: its
    // checked model is freed before the write, not held through it.
    let (whole, again);
    let (artifacts, options) = match compared.into_whole() {
        crate::write::Given::Whole(artifacts, survey) => {
            drop(checked);
            whole = artifacts;
            let options = crate::write::Options { survey, adopt };
            (crate::write::Artifacts::Whole(&whole), options)
        }
        crate::write::Given::Compared(compared) => {
            again = move || crate::emit::all(&checked, source_name);
            let options = crate::write::Options { survey: None, adopt };
            (crate::write::Artifacts::Compared(compared, &again), options)
        }
    };
    if check_only {
        return match crate::write::check(out, artifacts, options) {
            Ok(stale) if stale.is_fresh() => {
                eprintln!("{} is up to date ({files} files)", out.display());
                Exit::Ok
            }
            Ok(stale) => {
                if format == Format::Human {
                    out!("{}", crate::write::render_diff(&stale));
                } else {
                    report.extend(stale_findings(out, &stale, &rebuild));
                }
                eprintln!(
                    "{} is stale: {} file(s) differ; run `{rebuild}`",
                    out.display(),
                    stale.changes.len(),
                );
                if under_pre_commit() {
                    // A pre-commit-only user may have no meshc on PATH; the
                    // manual-stage hook runs the one pre-commit installed.
                    eprintln!(
                        "  or: pre-commit run --hook-stage manual meshc-build (meshc-build-system with meshc on PATH)"
                    );
                }
                Exit::Findings
            }
            Err(e) => {
                eprintln!("meshc: {e}");
                Exit::Usage
            }
        };
    }
    match crate::write::write(out, artifacts, options) {
        Ok(summary) => {
            eprintln!("{}: {summary}", out.display());
            Exit::Ok
        }
        Err(e) => {
            eprintln!("meshc: {e}");
            Exit::Usage
        }
    }
}

/// Generated files larger than this are not read to locate their first
/// difference (the finding then points at their first line).
const MAX_STALE_READ: u64 = 16 * 1024 * 1024;

/// One finding (E001) per stale file, at most [`MAX_SHOWN_MACHINE`]: the
/// file in DIR and, when it is a regular file there, its first changed line.
fn stale_findings(
    out: &Path,
    stale: &crate::write::Staleness,
    rebuild: &str,
) -> Vec<(Source, Vec<Diagnostic>)> {
    let listed = &stale.changes[..stale.changes.len().min(MAX_SHOWN_MACHINE)];
    if listed.len() < stale.changes.len() {
        eprintln!(
            "{} stale files; only the first {MAX_SHOWN_MACHINE} are listed",
            stale.changes.len()
        );
    }
    listed
        .iter()
        .map(|change| {
            let file = out.join(change.path());
            let on_disk = match change {
                crate::write::Change::Missing { .. } => String::new(),
                _ => read_generated(&file),
            };
            let (source, diag) =
                diagnostic::stale::finding(change, file.display().to_string(), on_disk, rebuild);
            (source, vec![diag])
        })
        .collect()
}

/// A generated file's text as it is on disk, or empty when it is not a
/// regular file (never followed through a symlink, never a FIFO) or too
/// large; only for locating a finding.
fn read_generated(file: &Path) -> String {
    let regular = std::fs::symlink_metadata(file).is_ok_and(|m| m.is_file() && m.len() <= MAX_STALE_READ);
    if !regular {
        return String::new();
    }
    let mut bytes = Vec::new();
    match open_nonblocking(file) {
        Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => {
            let _ = f.take(MAX_STALE_READ).read_to_end(&mut bytes);
        }
        _ => {}
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
