//! `meshc import`, the command-line side: reads the paths (files,
//! directories walked in sorted order, `-` for standard input) on a thread
//! of its own and streams them, in order, through the pure
//! [`crate::import::Importer`], keeping only the texts that findings point
//! into; prints the topology (standard output, or `-o FILE` written
//! atomically), then checks the printed text and reports everything in the
//! chosen diagnostics format.

use std::collections::{BTreeMap, btree_map};
use std::ffi::{CStr, CString};
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
    let Streamed {
        imported,
        mut inputs,
        unreadable,
    } = match stream(&args.paths) {
        Ok(streamed) => streamed,
        Err(msg) => {
            eprintln!("{msg}");
            return Exit::Usage;
        }
    };

    // Each finding goes to the input it is about. Only the texts findings
    // point into are needed from here on: those dropped while streaming
    // are read again (and must be what was imported).
    let located = import::Located::new(inputs.iter().map(|input| input.len));
    let mut texts: BTreeMap<usize, Source> = BTreeMap::new();
    for d in &imported.diagnostics {
        for i in located.inputs_of(d) {
            if let (Some(input), btree_map::Entry::Vacant(slot)) = (inputs.get_mut(i), texts.entry(i)) {
                match input.text() {
                    Ok(source) => slot.insert(source),
                    Err(msg) => {
                        eprintln!("{msg}");
                        return Exit::Usage;
                    }
                };
            }
        }
    }
    drop(inputs);
    let mut found: BTreeMap<usize, Vec<Diagnostic>> = BTreeMap::new();
    let nowhere = Source::new("", "");
    for d in imported.diagnostics {
        if let Some((i, d)) = located.localize(d, |i| texts.get(&i).unwrap_or(&nowhere)) {
            found.entry(i).or_default().push(d);
        }
    }
    let mut results = unreadable;
    results.extend(
        found
            .into_iter()
            .filter_map(|(i, diags)| Some((texts.remove(&i)?, diags))),
    );
    drop(texts);

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

/// What streaming the inputs gave: the import, what is left of each
/// input read, and the inputs that could not be read, with why.
struct Streamed {
    imported: import::Imported,
    inputs: Vec<Input>,
    unreadable: Vec<(Source, Vec<Diagnostic>)>,
}

/// An input once the importer has read it: its name and what is needed to
/// show findings in it. Its text is kept only if reading it gave findings
/// (or it cannot be read again: standard input); any other is read again
/// if assembly's findings point into it, and must then be the same bytes.
struct Input {
    /// The source's name, as shown.
    name: String,
    /// Its text's length in bytes: where the next input starts in the
    /// importer's span space.
    len: usize,
    /// [`fingerprint`] of its text.
    fingerprint: u64,
    text: Option<String>,
    /// The path to read it again by, where its name (lossy) is not that.
    path: Option<Box<Path>>,
}

/// How an input can be read again, for its findings.
enum Again {
    /// It cannot: standard input, whose text is kept.
    Never,
    /// By its name, which is its path.
    ByName,
    /// By this path (its name shows it lossily).
    By(Box<Path>),
}

impl Input {
    /// The input as a `Source`: its kept text, or its file read again,
    /// which must be the text imported (else the findings' spans would
    /// point into other bytes).
    fn text(&mut self) -> Result<Source, String> {
        if let Some(text) = self.text.take() {
            return Ok(Source::new(std::mem::take(&mut self.name), text));
        }
        let path = self.path.as_deref().unwrap_or(Path::new(&self.name));
        match read_source(path, IMPORT_LIMIT) {
            Ok(source)
                if source.text.len() == self.len
                    && fingerprint(source.text.as_bytes()) == self.fingerprint =>
            {
                Ok(Source::new(std::mem::take(&mut self.name), source.text))
            }
            Err(ReadError::Io(msg)) => Err(msg),
            Ok(_) | Err(ReadError::Unreadable(_)) => Err(format!(
                "meshc: cannot read {}: it changed while it was imported; import again",
                self.name
            )),
        }
    }
}

/// A 64-bit fingerprint of a text, to know a file read again for its
/// findings is the one imported. Not a defence against an adversary (who
/// could as well change the file before meshc reads it): each step is a
/// bijection of the state, so any one changed word changes the result,
/// and a change of length is caught before it is compared. About half an
/// instruction per byte.
fn fingerprint(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let step = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(K);
    let (words, rest) = bytes.as_chunks::<8>();
    let mut h = words
        .iter()
        .fold(bytes.len() as u64, |h, w| step(h, u64::from_le_bytes(*w)));
    for &b in rest {
        h = step(h, u64::from(b));
    }
    h
}

/// What the reading thread hands over, in input order.
enum Item {
    /// An input read: its [`fingerprint`], how to read it again, and
    /// `Path::of` its name.
    Read(Source, u64, Again, Box<import::Path>),
    /// An input that is not a text meshc reads (too large, not UTF-8).
    Unreadable(Source, Diagnostic),
    /// A path could not be read: the message, and nothing after it.
    Failed(String),
}

/// How many inputs go over at once: one hand-over per file cost a wake-up
/// (a `futex` call or two) per file.
const BATCH: usize = 16;
/// How many batches the reading thread may be ahead.
const BATCHES_AHEAD: usize = 4;

/// Reads the inputs under `paths` on a second thread, in order, while
/// this one imports each as it comes: the system calls of reading (about
/// half a 10k import's system time) overlap the parsing, and each text's
/// buffer goes back to the reading thread to hold another file, so the
/// texts never add up (80 MB at 10k, each megabyte first touched costing
/// about 1.5 ms of CPU).
fn stream(paths: &[PathBuf]) -> Result<Streamed, String> {
    let mut importing = Importing::default();
    std::thread::scope(|scope| {
        let (send, batches) = std::sync::mpsc::sync_channel::<Vec<Item>>(BATCHES_AHEAD);
        let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
        scope.spawn(move || {
            let mut reader = Reader {
                batch: Vec::with_capacity(BATCH),
                send,
                recycled,
            };
            for path in paths {
                match gather(path, &mut reader) {
                    Ok(()) => {}
                    Err(Stop::Failed(msg)) => {
                        let _ = reader.take(Item::Failed(msg));
                        break;
                    }
                    Err(Stop::Gone) => return,
                }
            }
            let _ = reader.flush();
        });
        for item in batches.into_iter().flatten() {
            if let Some(buffer) = importing.take(item)? {
                let _ = recycle.send(buffer);
            }
        }
        Ok(importing.finish())
    })
}

/// The importing side of the stream (this thread): each input read goes
/// through the importer as it comes.
#[derive(Default)]
struct Importing {
    importer: import::Importer,
    inputs: Vec<Input>,
    unreadable: Vec<(Source, Vec<Diagnostic>)>,
}

impl Importing {
    /// Imports one item; gives back the buffer of a text no longer needed.
    fn take(&mut self, item: Item) -> Result<Option<Vec<u8>>, String> {
        match item {
            Item::Read(source, fingerprint, again, kind) => {
                let before = self.importer.findings();
                self.importer.read(&source, &kind);
                let Source { name, text, .. } = source;
                let len = text.len();
                // Standard input cannot be read again; an input with
                // findings will be shown. Kept in a copy of its own size:
                // the buffer goes back for the next file.
                let (text, path, buffer) = match again {
                    Again::Never => (Some(text), None, None),
                    again => {
                        let kept = (self.importer.findings() > before).then(|| text.as_str().to_owned());
                        let path = match again {
                            Again::By(path) => Some(path),
                            Again::Never | Again::ByName => None,
                        };
                        (kept, path, Some(text.into_bytes()))
                    }
                };
                self.inputs.push(Input {
                    name,
                    len,
                    fingerprint,
                    text,
                    path,
                });
                Ok(buffer)
            }
            Item::Unreadable(source, d) => {
                self.unreadable.push((source, vec![d]));
                Ok(None)
            }
            Item::Failed(msg) => Err(msg),
        }
    }

    fn finish(self) -> Streamed {
        Streamed {
            imported: self.importer.finish(),
            inputs: self.inputs,
            unreadable: self.unreadable,
        }
    }
}

/// The reading thread's side: what it read goes to the importing thread
/// in batches.
struct Reader {
    batch: Vec<Item>,
    send: std::sync::mpsc::SyncSender<Vec<Item>>,
    /// Buffers of texts the importer is done with.
    recycled: std::sync::mpsc::Receiver<Vec<u8>>,
}

/// Why the reading thread stops early.
enum Stop {
    /// A path could not be read (the message).
    Failed(String),
    /// The importer is gone (it stopped at an earlier failure).
    Gone,
}

impl Reader {
    fn take(&mut self, item: Item) -> Result<(), Stop> {
        self.batch.push(item);
        if self.batch.len() == BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stop> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.send.send(batch).map_err(|_| Stop::Gone)
    }

    /// A buffer for the next file: one the importer gave back, else a
    /// new one.
    fn buffer(&mut self) -> Vec<u8> {
        self.recycled.try_recv().unwrap_or_default()
    }

    /// Hands over a read input (`kind`: `Path::of` its name, when known
    /// already).
    fn add(
        &mut self,
        read: Result<(Source, u64), ReadError>,
        again: Again,
        kind: Option<Box<import::Path>>,
    ) -> Result<(), Stop> {
        match read {
            Ok((source, fingerprint)) => {
                let kind = kind.unwrap_or_else(|| Box::new(import::Path::of(&source.name)));
                self.take(Item::Read(source, fingerprint, again, kind))
            }
            Err(ReadError::Unreadable(b)) => {
                let (source, d) = *b;
                self.take(Item::Unreadable(source, d))
            }
            Err(ReadError::Io(msg)) => Err(Stop::Failed(msg)),
        }
    }
}

/// Hands over the inputs under `path`: a file, every importable file of a
/// directory (recursively, in sorted order, hidden entries skipped), or
/// standard input for `-`.
fn gather(path: &Path, reader: &mut Reader) -> Result<(), Stop> {
    let failed = |msg: String| Stop::Failed(msg);
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .take(yaml::MAX_INPUT as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| failed(format!("meshc: cannot read standard input: {e}")))?;
        let read = super::source_from_bytes("-".to_owned(), bytes, IMPORT_LIMIT).map(|s| (s, 0));
        return reader.add(read, Again::Never, None);
    }
    let meta =
        std::fs::metadata(path).map_err(|e| failed(format!("meshc: cannot read {}: {e}", path.display())))?;
    if !meta.is_dir() {
        let read = read_source(path, IMPORT_LIMIT).map(|s| {
            let fingerprint = fingerprint(s.text.as_bytes());
            (s, fingerprint)
        });
        // Read again by the path itself where its name is not that.
        let again = match path.to_str() {
            Some(_) => Again::ByName,
            None => Again::By(path.into()),
        };
        return reader.add(read, again, None);
    }
    // Each directory's entries sorted by name, a directory's tree at its
    // name's place: the order of the paths sorted (component by component)
    // without comparing whole paths (a 10k mesh's output is 47k files).
    // A directory's files are read in that order, each opened relative to
    // the directory's descriptor (the kernel does not walk the full path
    // again), and handed over as read. A file that cannot be read is
    // reported once the walk is over (as if all had been read first), so
    // that a directory that cannot be listed is what is reported.
    let mut stack = vec![Walk::Dir(path.to_path_buf())];
    let mut file_failed = None;
    // One buffer for every directory's `getdents64`, large enough for most
    // directories in one call.
    let mut listing_buffer: Vec<u8> = Vec::with_capacity(LISTING_BUFFER);
    while let Some(entry) = stack.pop() {
        let dir = match entry {
            Walk::File(file) => {
                if file_failed.is_none() {
                    let File {
                        dir,
                        name,
                        shown,
                        again,
                        kind,
                    } = *file;
                    match read_file_in(&dir, &name, shown, reader.buffer()) {
                        Err(ReadError::Io(msg)) => file_failed = Some(msg),
                        read => reader.add(read, again, Some(kind))?,
                    }
                }
                continue;
            }
            Walk::Dir(dir) => dir,
        };
        let cannot = |e: rustix::io::Errno| {
            failed(format!(
                "meshc: cannot read {}: {}",
                dir.display(),
                std::io::Error::from(e)
            ))
        };
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::DIRECTORY;
        let fd = std::rc::Rc::new(rustix::fs::open(&dir, flags, Mode::empty()).map_err(cannot)?);
        let mut listing = rustix::fs::RawDir::new(&*fd, listing_buffer.spare_capacity_mut());
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
                let stat = rustix::fs::statat(&*fd, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| {
                    let at = dir.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
                    failed(format!(
                        "meshc: cannot read {}: {}",
                        at.display(),
                        std::io::Error::from(e)
                    ))
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
        let dir_utf8 = dir.to_str().is_some();
        for (name, is_dir) in here.into_iter().rev() {
            if is_dir {
                stack.push(Walk::Dir(dir.join(std::ffi::OsStr::from_bytes(name.as_bytes()))));
            } else {
                let file = String::from_utf8_lossy(name.to_bytes());
                let mut shown = String::with_capacity(dir_shown.len() + 1 + file.len());
                shown.push_str(&dir_shown);
                if !dir_shown.is_empty() && !dir_shown.ends_with('/') {
                    shown.push('/');
                }
                shown.push_str(&file);
                debug_assert_eq!(
                    shown,
                    dir.join(std::ffi::OsStr::from_bytes(name.as_bytes()))
                        .display()
                        .to_string()
                );
                // The source's name, and what it says, once.
                let kind = import::Path::of(&shown);
                if kind.kind != import::FileKind::Other {
                    // The name shown is the path, unless a part of it is
                    // not UTF-8.
                    let again = if dir_utf8 && matches!(file, std::borrow::Cow::Borrowed(_)) {
                        Again::ByName
                    } else {
                        Again::By(dir.join(std::ffi::OsStr::from_bytes(name.as_bytes())).into())
                    };
                    stack.push(Walk::File(Box::new(File {
                        dir: fd.clone(),
                        name,
                        shown,
                        again,
                        kind: Box::new(kind),
                    })));
                }
            }
        }
    }
    match file_failed {
        Some(msg) => Err(Stop::Failed(msg)),
        None => Ok(()),
    }
}

/// An entry on the walk's stack: a directory still to list, or a file of
/// a directory listed, waiting for its place in the sorted order.
enum Walk {
    Dir(PathBuf),
    File(Box<File>),
}

/// A file of a listed directory, to read.
struct File {
    /// The directory, open (shared by its files).
    dir: std::rc::Rc<OwnedFd>,
    name: CString,
    /// Its whole path as shown: the source's name.
    shown: String,
    again: Again,
    kind: Box<import::Path>,
}

/// The bytes of directory entries asked for by one `getdents64`.
const LISTING_BUFFER: usize = 64 << 10;

/// A file's buffer holds at least this much before its first read: most
/// files meshc writes are smaller, and are read with one `read`.
const FIRST_CAPACITY: usize = 16 << 10;

/// A file that reaches this size as it is read has its size asked for
/// (`fstat`), so that one over the limit is refused before it is read.
const FIRST_READ: usize = 256 << 10;

/// Reads the regular file `name` of the open directory `dir` (`path` is
/// its whole path as displayed, the source's name) into `buffer`, a
/// buffer of an earlier file given back (its bytes are not read): one
/// `openat` relative to `dir` (without following a symlink, without
/// blocking in case it was replaced by a FIFO since the listing said it is
/// a regular file), `read`s into the buffer's spare capacity (never
/// zeroed), and `close`. No `fstat`: a read that returns less than it
/// asked for is a regular file's end. Only a file that reaches
/// [`FIRST_READ`] is `fstat`ed, so that one over the limit is refused
/// before it is read; the buffer never grows past the limit, whatever the
/// file does meanwhile. The text and its [`fingerprint`].
fn read_file_in(
    dir: &OwnedFd,
    name: &CStr,
    path: String,
    mut buffer: Vec<u8>,
) -> Result<(Source, u64), ReadError> {
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
    buffer.clear();
    buffer.reserve_exact(FIRST_CAPACITY);
    let mut checked = false;
    loop {
        let asked = buffer.capacity() - buffer.len();
        let n = match rustix::io::read(&file, rustix::buffer::spare_capacity(&mut buffer)) {
            Err(rustix::io::Errno::INTR) => continue,
            read => read.map_err(io)?,
        };
        if n < asked || buffer.len() > limit {
            break;
        }
        if !checked && buffer.len() >= FIRST_READ {
            checked = true;
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
        // Twice the room; one byte past the limit is enough to know the
        // file is over it.
        buffer.reserve_exact(buffer.len().min(limit + 1 - buffer.len()));
    }
    drop(file);
    let fingerprint = fingerprint(&buffer);
    super::source_from_bytes(path, buffer, IMPORT_LIMIT).map(|source| (source, fingerprint))
}

#[cfg(test)]
mod tests {
    use super::{Input, fingerprint};

    /// An input whose text was dropped is read again for its findings,
    /// and only if it is still the text imported.
    #[test]
    fn a_text_read_again_must_be_the_one_imported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.yaml");
        let text = "kind: Service\nmetadata:\n  name: a\n";
        std::fs::write(&path, text).unwrap();
        let input = |kept: Option<&str>| Input {
            name: path.display().to_string(),
            len: text.len(),
            fingerprint: fingerprint(text.as_bytes()),
            text: kept.map(str::to_owned),
            path: None,
        };
        let again = input(None).text().unwrap();
        assert_eq!(
            (again.name.as_str(), again.text.as_str()),
            (path.to_str().unwrap(), text)
        );
        // One byte changed, the length the same.
        std::fs::write(&path, text.replace("a\n", "b\n")).unwrap();
        let changed = input(None).text().unwrap_err();
        assert!(changed.contains("changed while it was imported"), "{changed}");
        // A kept text is not read again.
        assert_eq!(input(Some(text)).text().unwrap().text, text);
        // Longer, then gone.
        std::fs::write(&path, format!("{text}#\n")).unwrap();
        let longer = input(None).text().unwrap_err();
        assert!(longer.contains("changed while it was imported"), "{longer}");
        std::fs::remove_file(&path).unwrap();
        let gone = input(None).text().unwrap_err();
        assert!(
            gone.contains("cannot read") && !gone.contains("changed"),
            "{gone}"
        );
    }

    /// Each step is a bijection of the state: one bit flipped anywhere, in
    /// the words or the tail, changes the fingerprint.
    #[test]
    fn a_fingerprint_changes_with_any_one_bit() {
        let text: Vec<u8> = (0..77u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
        let whole = fingerprint(&text);
        for i in 0..text.len() {
            for bit in 0..8 {
                let mut t = text.clone();
                t[i] ^= 1 << bit;
                assert_ne!(fingerprint(&t), whole, "byte {i}, bit {bit}");
            }
        }
        assert_ne!(fingerprint(&text[..76]), whole);
    }
}
