//! `meshc import`, the command-line side: reads the paths (files,
//! directories walked in sorted order, `-` for standard input), hands them
//! to the pure [`crate::import::import`], prints the topology (standard
//! output, or `-o FILE` written atomically), then checks the printed text
//! and reports everything in the chosen diagnostics format.

use std::ffi::CStr;
use std::io::Read as _;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::atomic_file::{self, Existing, WriteError};
use super::{Exit, Format, Limit, ReadError, print_diagnostics, read_source, verdict};
use crate::diagnostic::Diagnostic;
use crate::import::{self, OUTPUT_EXISTS, print, yaml};
use crate::source::{Source, Span};
use crate::syntax::{Limits, Syntax};

/// Exit codes of `meshc import`, as `check`'s.
pub(super) const IMPORT_EXIT_CODES: &str = "\
Exit codes:
  0  imported; the topology passes `meshc check` (warnings may be shown)
  1  errors: conflicts between the inputs, or the topology does not check
     (it is still written, with the findings); or an input could not be
     read in full (then nothing is written)
  2  usage error, a path could not be read, or -o FILE exists (see --force)";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum TopologyFormat {
    /// KDL, in `meshc fmt`'s form
    #[default]
    Kdl,
    /// The TOML form of the same schema
    Toml,
}

#[derive(clap::Args, Debug)]
pub(super) struct ImportArgs {
    /// Kubernetes/Istio YAML (multi-document streams, `kind: List`,
    /// `kubectl get -o yaml`), VM files (cluster.env, sidecar.env, …), or
    /// directories of them (meshc's own output directory included); `-`
    /// reads YAML from standard input
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Write the topology to FILE (atomically) instead of standard output
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace FILE if it exists
    #[arg(long, requires = "out")]
    force: bool,
    /// The topology's syntax
    #[arg(long, value_enum, default_value_t)]
    format: TopologyFormat,
    /// How diagnostics are printed (machine formats go to standard output,
    /// so they need -o FILE)
    #[arg(long, value_enum, default_value_t)]
    diagnostic_format: Format,
}

/// Runs `meshc import`.
pub(super) fn run(args: &ImportArgs) -> Exit {
    if args.out.is_none() && args.diagnostic_format != Format::Human {
        eprintln!(
            "meshc: import --diagnostic-format {:?} prints diagnostics on standard output, where the topology goes: add -o FILE",
            args.diagnostic_format
        );
        return Exit::Usage;
    }
    if args.paths.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        eprintln!("meshc: PATH `-` (standard input) is given more than once; it can be read only once");
        return Exit::Usage;
    }
    // No transparent huge pages for this process: mimalloc asks for them,
    // and the kernel zeroes each whole (2 MiB) at its first touch, again
    // after every purge of a part of it. An import allocates and frees
    // about its inputs' size twice over (texts, trees, facts, the check of
    // the printed topology): with them, zeroing was a quarter to a third of
    // its CPU time (PERFORMANCE.md). Only a hint: an error changes nothing.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let mut inputs = Inputs::default();
    let mut unreadable: Vec<(Source, Vec<Diagnostic>)> = Vec::new();
    for path in &args.paths {
        if let Err(msg) = gather(path, &mut inputs, &mut unreadable) {
            eprintln!("{msg}");
            return Exit::Usage;
        }
    }
    let imported = import::import_known(&inputs.sources, &inputs.paths);
    drop(inputs.paths);
    let inputs = inputs.sources;

    // Each finding goes to the input it is about; the inputs with findings
    // are kept for printing them (moved, not copied: a 10k mesh's inputs
    // are 80 MB).
    let mut found: Vec<Vec<Diagnostic>> = vec![Vec::new(); inputs.len()];
    let located = import::Located::new(&inputs);
    for d in imported.diagnostics {
        if let Some((i, d)) = located.localize(d) {
            found[i].push(d);
        }
    }
    let mut results = unreadable;
    results.extend(inputs.into_iter().zip(found).filter(|(_, d)| !d.is_empty()));

    // A topology missing what an unread input holds would be a partial
    // output, however well it checks: write none, as `build` writes no tree.
    let unread = results
        .iter()
        .filter(|(_, diags)| diags.iter().any(|d| READ_FAILURES.contains(&d.code.code)))
        .count();
    if unread > 0 {
        print_diagnostics(&results, args.diagnostic_format);
        eprintln!(
            "meshc: nothing was written: {unread} input{} could not be read in full; fix {} and import again",
            if unread == 1 { "" } else { "s" },
            if unread == 1 { "it" } else { "them" },
        );
        return Exit::Findings;
    }

    let syntax = match args.format {
        TopologyFormat::Kdl => print::Syntax::Kdl,
        TopologyFormat::Toml => print::Syntax::Toml,
    };
    let text = print::print(&imported.topology, &imported.notes, syntax);
    // Freed before the check, which can reuse their memory.
    drop(imported.topology);
    drop(imported.notes);

    // The written topology, judged as `meshc check` would.
    let (check_syntax, default_name) = match args.format {
        TopologyFormat::Kdl => (Syntax::Kdl, "topology.kdl"),
        TopologyFormat::Toml => (Syntax::Toml, "topology.toml"),
    };
    let name = args
        .out
        .as_ref()
        .map_or(default_name.to_owned(), |o| o.display().to_string());
    let printed = Source::new(name, text);
    let (_, check_diags) = crate::check_source(&printed, check_syntax, Limits::default());

    let mut exit_usage = false;
    let existing = if args.force {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    match &args.out {
        None => out!("{}", printed.text),
        Some(out) => match atomic_file::write(out, &printed.text, existing) {
            Ok(()) => {}
            Err(WriteError::Exists) => {
                let d = Diagnostic::new(
                    &OUTPUT_EXISTS,
                    Span::file_start(),
                    format!("{} exists; nothing was written", out.display()),
                )
                .help("pass --force to replace it, or choose another -o FILE");
                results.push((Source::new(out.display().to_string(), ""), vec![d]));
                exit_usage = true;
            }
            Err(WriteError::Io(e)) => {
                eprintln!("meshc: cannot write {}: {e}", out.display());
                exit_usage = true;
            }
        },
    }
    if !check_diags.is_empty() && !exit_usage {
        results.push((printed, check_diags));
    }
    print_diagnostics(&results, args.diagnostic_format);
    let all: Vec<Diagnostic> = results.into_iter().flat_map(|(_, d)| d).collect();
    if exit_usage {
        Exit::Usage
    } else {
        verdict(&all, false)
    }
}

/// The findings that mean an input was not read in full: the file as a
/// whole (too large, not UTF-8), its YAML (malformed, over a budget), or a
/// line of a VM file.
const READ_FAILURES: [&str; 5] = [
    crate::diagnostic::codes::UNREADABLE_INPUT.code,
    import::MALFORMED_YAML.code,
    import::YAML_LIMIT.code,
    import::vm_files::UNREADABLE.code,
    import::vm_files::TOO_LARGE.code,
];

/// The most an input file may hold: the YAML reader's own limit.
const IMPORT_LIMIT: Limit = Limit {
    bytes: yaml::MAX_INPUT as u64,
    too_large: "split it: export one namespace or one kind at a time (`kubectl get … -n NS -o yaml`)",
    not_utf8: "save it as UTF-8: Kubernetes YAML and the VM files meshc reads are UTF-8 text",
};

/// The inputs read, each with what its name says (`import::Path::of` of
/// it, worked out once: it chooses a directory's files, then guides the
/// import).
#[derive(Default)]
struct Inputs {
    sources: Vec<Source>,
    paths: Vec<import::Path>,
}

/// Adds the inputs under `path`: a file, every importable file of a
/// directory (recursively, in sorted order, hidden entries skipped), or
/// standard input for `-`.
fn gather(
    path: &Path,
    inputs: &mut Inputs,
    unreadable: &mut Vec<(Source, Vec<Diagnostic>)>,
) -> Result<(), String> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .take(yaml::MAX_INPUT as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("meshc: cannot read standard input: {e}"))?;
        return add(
            super::source_from_bytes("-".to_owned(), bytes, IMPORT_LIMIT),
            None,
            inputs,
            unreadable,
        );
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("meshc: cannot read {}: {e}", path.display()))?;
    if !meta.is_dir() {
        return add(read_source(path, IMPORT_LIMIT), None, inputs, unreadable);
    }
    // Each directory's entries sorted by name, a directory's tree at its
    // name's place: the order of the paths sorted (component by component)
    // without comparing whole paths (a 10k mesh's output is 47k files).
    // A directory's files are read when it is listed, each opened relative
    // to the directory's descriptor (the kernel does not walk the full path
    // again), and wait on the stack for their turn; what reading them found
    // is taken in that order once the walk is over, as if read then.
    let mut stack = vec![Entry::Dir(path.to_path_buf())];
    let mut files = Vec::new();
    let mut buffer = Vec::new();
    // One buffer for every directory's `getdents64`, large enough for most
    // directories in one call.
    let mut listing_buffer: Vec<u8> = Vec::with_capacity(LISTING_BUFFER);
    while let Some(entry) = stack.pop() {
        let dir = match entry {
            Entry::File(read, kind) => {
                files.push((read, kind));
                continue;
            }
            Entry::Dir(dir) => dir,
        };
        let cannot = |e: rustix::io::Errno| {
            format!(
                "meshc: cannot read {}: {}",
                dir.display(),
                std::io::Error::from(e)
            )
        };
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::DIRECTORY;
        let fd = rustix::fs::open(&dir, flags, Mode::empty()).map_err(cannot)?;
        let mut listing = rustix::fs::RawDir::new(&fd, listing_buffer.spare_capacity_mut());
        let mut here = Vec::new();
        while let Some(item) = listing.next() {
            let item = item.map_err(cannot)?;
            let name = item.file_name();
            if name.to_bytes().starts_with(b".") {
                continue;
            }
            let mut kind = item.file_type();
            if kind == FileType::Unknown {
                // The file system does not say in its listing.
                let stat = rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| {
                    let at = dir.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
                    format!("meshc: cannot read {}: {}", at.display(), std::io::Error::from(e))
                })?;
                kind = FileType::from_raw_mode(stat.st_mode);
            }
            if kind == FileType::Directory || kind == FileType::RegularFile {
                here.push((name.to_owned(), kind == FileType::Directory));
            }
        }
        here.sort_unstable();
        // A file's name as `dir.join(name).display()` writes it, made from
        // the directory's shown once (formatting each joined path was 2 %
        // of a 10k import).
        let dir_shown = dir.display().to_string();
        for (name, is_dir) in here.into_iter().rev() {
            if is_dir {
                stack.push(Entry::Dir(dir.join(std::ffi::OsStr::from_bytes(name.as_bytes()))));
            } else {
                let file = String::from_utf8_lossy(name.to_bytes());
                let mut display = String::with_capacity(dir_shown.len() + 1 + file.len());
                display.push_str(&dir_shown);
                if !dir_shown.is_empty() && !dir_shown.ends_with('/') {
                    display.push('/');
                }
                display.push_str(&file);
                debug_assert_eq!(
                    display,
                    dir.join(std::ffi::OsStr::from_bytes(name.as_bytes()))
                        .display()
                        .to_string()
                );
                // The source's name, and what it says, once.
                let kind = import::Path::of(&display);
                if kind.kind != import::FileKind::Other {
                    let read = read_file_in(&fd, &name, display, &mut buffer);
                    stack.push(Entry::File(read, Box::new(kind)));
                }
            }
        }
    }
    for (read, kind) in files {
        add(read, Some(*kind), inputs, unreadable)?;
    }
    Ok(())
}

/// A directory entry on the walk's stack: a directory still to list, or a
/// file already read, waiting for its place in the sorted order.
enum Entry {
    Dir(PathBuf),
    File(Result<Source, ReadError>, Box<import::Path>),
}

/// The bytes of directory entries asked for by one `getdents64`.
const LISTING_BUFFER: usize = 64 << 10;

/// The first read of a file asks for this much; a file that fills it is
/// larger than almost every file import reads, and its size is asked for.
const FIRST_READ: usize = 256 << 10;

/// Reads the regular file `name` of the open directory `dir` (`path` is
/// its whole path as displayed, the source's name): one `openat` relative to `dir`
/// (without following a symlink, without blocking in case it was replaced
/// by a FIFO since the listing said it is a regular file), reads into
/// `buffer`, which is reused for every file, and `close`. No `fstat`: a
/// read that returns less than it asked for is a regular file's end. Only
/// a file that fills [`FIRST_READ`] is `fstat`ed, so that one over the
/// limit is refused before it is read; the reads stay bounded by the limit
/// whatever the file does meanwhile.
fn read_file_in(dir: &OwnedFd, name: &CStr, path: String, buffer: &mut Vec<u8>) -> Result<Source, ReadError> {
    let display = || path.clone();
    let io = |e: rustix::io::Errno| {
        ReadError::Io(format!(
            "meshc: cannot read {}: {}",
            display(),
            std::io::Error::from(e)
        ))
    };
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK;
    let file = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(io)?;
    let limit = IMPORT_LIMIT.bytes as usize;
    let mut len = 0;
    let mut want = FIRST_READ;
    loop {
        if buffer.len() < len + want {
            buffer.resize(len + want, 0);
        }
        let n = match rustix::io::read(&file, &mut buffer[len..len + want]) {
            Err(rustix::io::Errno::INTR) => continue,
            read => read.map_err(io)?,
        };
        len += n;
        if n < want || len > limit {
            break;
        }
        if len == FIRST_READ {
            let stat = rustix::fs::fstat(&file).map_err(io)?;
            if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
                return Err(ReadError::Io(format!(
                    "meshc: cannot read {}: it is not a regular file (a FIFO, socket or device would block or never end)",
                    display()
                )));
            }
            if u64::try_from(stat.st_size).unwrap_or(u64::MAX) > IMPORT_LIMIT.bytes {
                return Err(super::too_large(display(), IMPORT_LIMIT));
            }
        }
        // One byte past the limit is enough to know the file is over it.
        want = (len * 2).min(limit + 1) - len;
    }
    drop(file);
    super::source_from_bytes(path, buffer[..len].to_vec(), IMPORT_LIMIT)
}

/// Adds a read input (with `Path::of` its name, when known already).
fn add(
    read: Result<Source, ReadError>,
    path: Option<import::Path>,
    inputs: &mut Inputs,
    unreadable: &mut Vec<(Source, Vec<Diagnostic>)>,
) -> Result<(), String> {
    match read {
        Ok(source) => {
            inputs
                .paths
                .push(path.unwrap_or_else(|| import::Path::of(&source.name)));
            inputs.sources.push(source);
        }
        Err(ReadError::Unreadable(b)) => {
            let (source, d) = *b;
            unreadable.push((source, vec![d]));
        }
        Err(ReadError::Io(msg)) => return Err(msg),
    }
    Ok(())
}
