//! `meshc plan`, the command-line side: reads the base (the committed
//! output directory, an older topology file, or the topology at a git
//! revision), compiles the topology in memory, and prints what
//! [`crate::plan`] makes of the two. Writes nothing.
//!
//! The one place meshc runs another program: `git show REV:./FILE` for
//! `--base-rev`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Exit, InputArgs, Limit, ReadError, print_diagnostics, read_source, verdict};
use crate::diagnostic::Diagnostic;
use crate::plan::{self, Files};
use crate::source::Source;
use crate::syntax::{Limits, Syntax};

/// `meshc plan`'s exit codes, as `terraform plan -detailed-exitcode`'s
/// but with 1 and 2 in meshc's order: 1 says there is something to review.
pub(super) const PLAN_EXIT_CODES: &str = "\
Exit codes:
  0  no changes: the topology generates what the base does
  1  changes (printed)
  2  the topology or the base has errors, usage error, or a file or git
     revision could not be read";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum PlanFormat {
    /// For a terminal
    #[default]
    Human,
    /// For a pull-request comment: a summary table, the consequences, and
    /// each scope's objects in a collapsed block
    Markdown,
    /// One JSON document (fields documented in the README)
    Json,
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("against").required(true).args(["out", "base", "base_rev"])))]
pub(super) struct PlanArgs {
    /// Topology file (.kdl, or .toml for the TOML form): the change to review
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Compare with the output a build wrote into DIR (and that is
    /// committed); a DIR that does not exist yet is empty
    #[arg(short, long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Compare with an older topology file
    #[arg(long, value_name = "FILE")]
    base: Option<PathBuf>,
    /// Compare with FILE as it is at git revision REV (`git show REV:./FILE`)
    #[arg(long, value_name = "REV")]
    base_rev: Option<String>,
    /// How the plan is printed
    #[arg(long, value_enum, default_value_t)]
    format: PlanFormat,
    #[command(flatten)]
    input: InputArgs,
}

/// Runs `meshc plan`.
pub(super) fn run(args: &PlanArgs) -> Exit {
    let source = match read_source(&args.file, Limit::topology(args.input.max_input_size)) {
        Ok(source) => source,
        Err(ReadError::Unreadable(b)) => {
            print_diagnostics(&[(b.0, vec![b.1])], super::Format::Human);
            return Exit::Usage;
        }
        Err(ReadError::Io(msg)) => {
            eprintln!("{msg}");
            return Exit::Usage;
        }
    };
    // Both sides are compiled under the new file's base name, so the
    // headers that name it do not count as a change.
    let base_name = args
        .file
        .file_name()
        .map_or_else(|| source.name.clone(), |n| n.to_string_lossy().into_owned());
    let Some(new) = compile(source, &base_name, &args.input) else {
        eprintln!("meshc: the topology has errors; no plan");
        return Exit::Usage;
    };
    let old = match base(args, &base_name) {
        Ok(old) => old,
        Err(msg) => {
            eprintln!("meshc: {msg}");
            return Exit::Usage;
        }
    };
    let plan = plan::compare(&old, &new);
    let text = match args.format {
        PlanFormat::Human => plan::render::human(&plan),
        PlanFormat::Markdown => plan::render::markdown(&plan),
        PlanFormat::Json => plan::render::json(&plan),
    };
    out!("{text}");
    if plan.changed { Exit::Findings } else { Exit::Ok }
}

/// The files a topology generates, or `None` after printing its errors
/// (and, with `--deny-warnings`, its warnings). Warnings are printed either
/// way, on stderr, so the plan on stdout stays clean.
fn compile(source: Source, base_name: &str, input: &InputArgs) -> Option<Files> {
    let syntax = Syntax::from_path(&source.name);
    let (artifacts, diags) = crate::compile(&source, syntax, Limits::default(), base_name);
    let ok = verdict(&diags, input.deny_warnings) == Exit::Ok;
    if !diags.is_empty() {
        print_diagnostics(&[(source, diags)], super::Format::Human);
    }
    artifacts.filter(|_| ok).map(|a| plan::files_of(&a))
}

/// The base side, or why it cannot be had.
fn base(args: &PlanArgs, base_name: &str) -> Result<Files, String> {
    if let Some(dir) = &args.out {
        return match crate::write::read_output(dir) {
            Ok(Some(files)) => Ok(files),
            Ok(None) => {
                eprintln!("{} does not exist yet: everything is new", dir.display());
                Ok(Files::new())
            }
            Err(e) => Err(e.to_string()),
        };
    }
    let source = if let Some(path) = &args.base {
        match read_source(path, Limit::topology(args.input.max_input_size)) {
            Ok(source) => source,
            Err(ReadError::Unreadable(b)) => {
                print_diagnostics(&[(b.0, vec![b.1])], super::Format::Human);
                return Err(format!("cannot read the base {}", path.display()));
            }
            Err(ReadError::Io(msg)) => return Err(msg.trim_start_matches("meshc: ").to_owned()),
        }
    } else if let Some(rev) = &args.base_rev {
        at_revision(&args.file, rev, args.input.max_input_size)?
    } else {
        return Err("no base: give -o DIR, --base FILE or --base-rev REV".to_owned());
    };
    let name = source.name.clone();
    // The base's warnings are not this change's business.
    let syntax = Syntax::from_path(&name);
    let (artifacts, diags) = crate::compile(&source, syntax, Limits::default(), base_name);
    match artifacts {
        Some(artifacts) => Ok(plan::files_of(&artifacts)),
        None => {
            let errors: Vec<Diagnostic> = diags.into_iter().filter(Diagnostic::is_error).collect();
            print_diagnostics(&[(source, errors)], super::Format::Human);
            Err(format!("the base {name} has errors; no plan"))
        }
    }
}

/// `file` as committed at `rev`, read with `git show REV:./NAME` run in
/// the file's directory (git resolves `./` against it).
fn at_revision(file: &Path, rev: &str, max: u64) -> Result<Source, String> {
    if rev.is_empty() || rev.starts_with('-') || rev.contains(['\0', ':']) {
        return Err(format!("`{rev}` is not a git revision meshc accepts"));
    }
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = file
        .file_name()
        .ok_or_else(|| format!("{} names no file", file.display()))?
        .to_string_lossy()
        .into_owned();
    let spec = format!("{rev}:./{name}");
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["show", "--no-textconv", &spec])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        return Err(format!("git show {spec} failed: {}", err.trim()));
    }
    if output.stdout.len() as u64 > max {
        return Err(format!("{spec} is larger than the limit of {max} bytes"));
    }
    let text = String::from_utf8(output.stdout).map_err(|_| format!("{spec} is not valid UTF-8"))?;
    Ok(Source::new(spec, text))
}
