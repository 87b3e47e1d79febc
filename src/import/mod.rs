//! `meshc import`: an existing mesh's files back to a topology.
//!
//! The stage reads backwards through the pipeline: Kubernetes/Istio YAML
//! and VM files → facts (`kubernetes`, `bundle`) → a `Topology`
//! (`assemble`) with notes where a user must decide → text (`print`, the
//! printer's) → the usual `check_source`, which says whether it passes.
//!
//! Pure: no I/O. The CLI reads the files (directories in sorted order, `-`
//! for standard input) and hands them over as `Source`s.
//!
//! # Spans
//!
//! One `Diagnostic` has spans but no file, and an import reads many files.
//! So spans here are offsets into the inputs laid end to end: input `i`
//! starts at the sum of the lengths (plus one) of the inputs before it.
//! [`locate`] turns such a span back into (input, span in that input); the
//! model's spans are in the same space.

pub mod assemble;
pub mod bundle;
pub mod kubernetes;
pub mod print;
pub mod vm_files;
pub mod yaml;
pub mod yaml_block;

use crate::declare_code;
use crate::diagnostic::{Code, Diagnostic};
use crate::model::Topology;
use crate::source::{Source, Span};

pub use print::{Decl, Note};

/// What an import produced: the topology, the notes a user must read, and
/// every finding (errors are conflicts; warnings what the language cannot
/// express).
#[derive(Debug)]
pub struct Imported {
    pub topology: Topology,
    pub notes: Vec<Note>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads every input and assembles one topology. Pure and total: any
/// input gives a result, problems are diagnostics.
pub fn import(inputs: &[Source]) -> Imported {
    // What each input's name says, worked out once for both threads.
    let paths: Vec<Path> = inputs.iter().map(|s| Path::of(&s.name)).collect();
    import_known(inputs, &paths)
}

/// [`import`] of inputs whose names' [`Path::of`] the caller has worked
/// out already: `paths[i]` must be `Path::of(&inputs[i].name)`.
pub fn import_known(inputs: &[Source], paths: &[Path]) -> Imported {
    debug_assert_eq!(inputs.len(), paths.len());
    let mut importer = Importer::default();
    for (source, path) in inputs.iter().zip(paths) {
        importer.read(source, path);
    }
    importer.finish()
}

/// An import fed one input at a time, in input order: [`import_known`]
/// for a caller that frees each input's text once its facts are taken.
/// The CLI streams a directory through it (a 10k mesh's output is 47k
/// files, 80 MB: holding every text to the end was about half of the
/// import's peak memory, and memory first touched costs CPU time).
///
/// The facts own what they keep; nothing read borrows an input past
/// [`Importer::read`]. Findings may point into any input read (assembly
/// finds conflicts between inputs), so a caller that dropped a text must
/// get it back to show them.
#[derive(Debug, Default)]
pub struct Importer {
    facts: kubernetes::Facts,
    diagnostics: Vec<Diagnostic>,
    /// Where the next input starts in the shared span space: one byte
    /// past the end of the one before (what [`Located`] undoes).
    base: usize,
}

impl Importer {
    /// Reads one input into the facts: its YAML objects, its VM file or
    /// meshc's runbook. `path` must be `Path::of(&source.name)`.
    pub fn read(&mut self, source: &Source, path: &Path) {
        let base = self.base;
        let (facts, diags) = (&mut self.facts, &mut self.diagnostics);
        match path.kind {
            FileKind::Yaml => {
                // Each document is read, then freed.
                for doc in yaml::load(&source.text, base, diags) {
                    kubernetes::read(&doc, path, facts, diags);
                }
            }
            FileKind::VmFile(file) => bundle::read(file, source, base, path, facts, diags),
            FileKind::Runbook => bundle::read_runbook(&source.text, base, facts),
            FileKind::Other => {}
        }
        self.base += source.text.len() + 1;
    }

    /// How many findings the inputs read so far gave.
    pub fn findings(&self) -> usize {
        self.diagnostics.len()
    }

    /// Assembles the facts of every input read into one topology.
    pub fn finish(self) -> Imported {
        let mut diags = self.diagnostics;
        let (topology, notes) = assemble::assemble(self.facts, &mut diags);
        crate::diagnostic::sort(&mut diags);
        Imported {
            topology,
            notes,
            diagnostics: diags,
        }
    }
}

/// The input a global span falls in, and the span within it.
pub fn locate(inputs: &[Source], span: Span) -> Option<(usize, Span)> {
    Located::new(inputs.iter().map(|s| s.text.len())).locate(span)
}

/// A diagnostic of [`import`] made local to the input its primary label
/// is in: (that input's index, the diagnostic with spans in it). A
/// secondary label in another input cannot be drawn there, so it becomes a
/// line of the help naming that file, line and column.
pub fn localize(inputs: &[Source], d: Diagnostic) -> Option<(usize, Diagnostic)> {
    Located::new(inputs.iter().map(|s| s.text.len())).localize(d, |i| &inputs[i])
}

/// Where each input starts in the shared span space, counted once from
/// the inputs' lengths: finding a span's input is a binary search, not a
/// walk over every input before it (a 10k mesh's output is 47k files, and
/// as many diagnostics can be localized). The texts are not needed to
/// locate a span, so a caller can ask which inputs a diagnostic points
/// into ([`Located::inputs_of`]) before it has their texts.
pub struct Located {
    /// The global offset of each input's first byte, increasing, and one
    /// past the last input's end.
    starts: Vec<usize>,
}

impl Located {
    /// The inputs' lengths (their texts' bytes), in input order.
    pub fn new(lengths: impl IntoIterator<Item = usize>) -> Located {
        let mut base = 0;
        let mut starts: Vec<usize> = lengths
            .into_iter()
            .map(|len| {
                let start = base;
                base += len + 1;
                start
            })
            .collect();
        starts.push(base);
        Located { starts }
    }

    /// See [`locate`].
    pub fn locate(&self, span: Span) -> Option<(usize, Span)> {
        // The last input starting at or before the span; it holds the span
        // if the span starts at or before its end.
        let inputs = self.starts.len() - 1;
        let i = self.starts[..inputs]
            .partition_point(|&b| b <= span.start)
            .checked_sub(1)?;
        let base = self.starts[i];
        // Its end: one byte before the next input's start.
        let end = self.starts[i + 1] - 1;
        if span.start > end {
            return None;
        }
        Some((
            i,
            Span::new(span.start - base, span.end.min(end).max(span.start) - base),
        ))
    }

    /// Every input a label of `d` points into, the primary label's first
    /// (an input may come more than once): the texts
    /// [`Located::localize`] asks for.
    pub fn inputs_of<'d>(&'d self, d: &'d Diagnostic) -> impl Iterator<Item = usize> + 'd {
        std::iter::once(d.span())
            .chain(d.labels.iter().map(|l| l.span))
            .filter_map(|span| self.locate(span).map(|(i, _)| i))
    }

    /// See [`localize`]; `source(i)` is input `i`, asked only for the
    /// inputs of [`Located::inputs_of`] other than the primary label's.
    pub fn localize<'s>(
        &self,
        mut d: Diagnostic,
        source: impl Fn(usize) -> &'s Source,
    ) -> Option<(usize, Diagnostic)> {
        let (index, _) = self.locate(d.span())?;
        let mut elsewhere = Vec::new();
        d.labels.retain_mut(|l| match self.locate(l.span) {
            Some((i, local)) if i == index => {
                l.span = local;
                true
            }
            Some((i, local)) => {
                let input = source(i);
                let at = input.line_col(local.start);
                elsewhere.push(format!(
                    "{} at {}:{}:{}",
                    l.message, input.name, at.line, at.column
                ));
                false
            }
            None => false,
        });
        if !elsewhere.is_empty() {
            let help = d.help.take().map(|h| format!("{h}\n")).unwrap_or_default();
            d = d.help(format!("{help}see: {}", elsewhere.join("; ")));
        }
        Some((index, d))
    }
}

/// What an input's name says about it. meshc's own output tree names the
/// cluster (`kubernetes/clusters/<c>/`, `control-plane/<c>/`) and the VM
/// (`vms/<vm>/`) of a file; other files are read for what they hold.
#[derive(Clone, Debug, Default)]
pub struct Path {
    pub cluster: Option<String>,
    pub vm: Option<String>,
    /// Under `kubernetes/mesh/`: configuration every control plane applies.
    pub mesh: bool,
    pub kind: FileKind,
    pub file_name: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FileKind {
    Yaml,
    VmFile(bundle::VmFile),
    Runbook,
    #[default]
    Other,
}

impl FileKind {
    /// What an input is read as, from its whole name, its last component,
    /// whether it lies in a VM's directory, and whether it is the
    /// Prometheus job of the VM sidecars.
    fn of(name: &str, file_name: &str, in_vm: bool, prometheus_job: bool) -> FileKind {
        // What meshc derives from the rest and nothing else reads back:
        // the Prometheus job, and a VM's mesh.yaml (cluster.env's keys as
        // the agent's proxy metadata).
        if prometheus_job || (in_vm && file_name == "mesh.yaml") {
            FileKind::Other
        } else if in_vm && let Some(f) = bundle::VmFile::of(file_name) {
            FileKind::VmFile(f)
        } else if file_name == "RUNBOOK.md" {
            FileKind::Runbook
        } else if name == "-"
            || file_name.ends_with(".yaml")
            || file_name.ends_with(".yml")
            || file_name.ends_with(".json")
        {
            FileKind::Yaml
        } else if let Some(f) = bundle::VmFile::of(file_name) {
            FileKind::VmFile(f)
        } else {
            FileKind::Other
        }
    }
}

impl Path {
    pub fn of(name: &str) -> Path {
        // One pass over the components (`/` or `\\` separated, empty ones
        // and `.` skipped), looking at each with the two before it: a 10k
        // mesh's output is 47k names.
        let mut path = Path::default();
        let (mut first, mut second): (Option<&str>, Option<&str>) = (None, None);
        let mut derived_prometheus = false;
        let mut from = 0;
        for (i, b) in name.bytes().chain(std::iter::once(b'/')).enumerate() {
            if b != b'/' && b != b'\\' {
                continue;
            }
            let part = &name[from..i];
            from = i + 1;
            if part.is_empty() || part == "." {
                continue;
            }
            match (first, second) {
                (Some("kubernetes"), Some("clusters")) => path.cluster = Some(part.to_owned()),
                (Some("control-plane"), Some(c)) => path.cluster = Some(c.to_owned()),
                (Some("vms"), Some(vm)) => path.vm = Some(vm.to_owned()),
                _ => {}
            }
            match (second, part) {
                (Some("kubernetes"), "mesh") => path.mesh = true,
                (Some("prometheus"), "vm-sidecars.yaml") => derived_prometheus = true,
                _ => {}
            }
            (first, second) = (second, Some(part));
        }
        let file_name = second.unwrap_or_default();
        path.kind = FileKind::of(name, file_name, path.vm.is_some(), derived_prometheus);
        path.file_name = file_name.to_owned();
        path
    }
}

declare_code! {
    /// An input file is not valid YAML (or a YAML node meshc cannot read:
    /// a mapping key that is not a scalar, an alias to no anchor).
    ///
    /// `meshc import` reads Kubernetes manifests, `kubectl get -o yaml`
    /// output and Helm values as YAML 1.2. The message gives the parser's
    /// reason; documents before the error in the same file are still read.
    pub static MALFORMED_YAML = "E950", Error, "malformed-yaml", "an input file is not valid YAML";
}

declare_code! {
    /// An input file exceeds what `meshc import` reads: larger than 64 MiB,
    /// nested deeper than 64 levels, or holding more than 4,000,000 YAML
    /// nodes once aliases are expanded.
    ///
    /// The limits keep a hostile file (an alias "billion laughs" bomb, a
    /// 100 MB document) from exhausting memory or time. Real manifests are
    /// far below them; split a huge stream into several files.
    pub static YAML_LIMIT = "E951", Error, "yaml-limit", "an input file is larger or deeper than import reads";
}

declare_code! {
    /// Two WorkloadEntries (or a WorkloadEntry and a VM's `cluster.env`)
    /// claim one address for different VMs.
    ///
    /// A topology has one VM per address; Istio would send one machine's
    /// traffic to the other. Remove the stale entry, or fix the address.
    pub static DUPLICATE_ADDRESS = "E953", Error, "import-duplicate-address", "two workload entries claim one address";
}

declare_code! {
    /// A Sidecar's egress host names a service that no Service,
    /// ServiceEntry or WorkloadEntry among the inputs defines.
    ///
    /// meshc turns egress hosts into `calls`; a call to a service that does
    /// not exist cannot be expressed. Import the manifests that define it
    /// too, or remove the host.
    pub static UNKNOWN_EGRESS_HOST = "E954", Error, "import-unknown-egress-host", "a Sidecar egress host names no imported service";
}

declare_code! {
    /// A VirtualService's route weights do not add up to 100.
    ///
    /// A topology's `route` weights must make 100 (E706); the imported
    /// weights are kept as written, and this says which VirtualService to
    /// fix.
    pub static IMPORT_WEIGHTS = "E955", Error, "import-route-weights", "imported route weights do not add up to 100";
}

declare_code! {
    /// A VM's `cluster.env` disagrees with its WorkloadEntry (address,
    /// network, namespace or service account).
    ///
    /// Istio trusts both: the proxy presents what `cluster.env` says, and
    /// the mesh routes to what the WorkloadEntry says. One of them is stale;
    /// the WorkloadEntry's value is imported.
    pub static VM_FILE_DISAGREES = "E956", Error, "import-vm-file-disagrees", "a VM file disagrees with its WorkloadEntry";
}

declare_code! {
    /// An input object or field that the topology language cannot express
    /// is left out of the imported topology.
    ///
    /// `meshc import` reports every such object and field with its file and
    /// line, so that nothing is silently dropped. Decide for each whether
    /// it matters: keep applying it beside meshc's output, or drop it.
    pub static NOT_EXPRESSIBLE = "W950", Warning, "import-not-expressible", "an imported object or field cannot be expressed";
}

declare_code! {
    /// The inputs do not say something the topology needs, and `meshc
    /// import` assumed a value (written in the topology with a comment).
    ///
    /// Check the assumption; meshc's own output carries most of these
    /// facts (`RUNBOOK.md`, `control-plane/`, the VM bundles): import the
    /// whole output directory to avoid them. More than five services whose
    /// ports no input gives are one finding, with their count and first
    /// names.
    pub static ASSUMED = "W952", Warning, "import-assumed", "a fact the inputs do not give was assumed";
}

declare_code! {
    /// `meshc import -o FILE` found FILE already there and did not replace it.
    ///
    /// An import never overwrites a file it was not asked to replace: the
    /// file may be a topology written by hand. Pass `--force` to replace it
    /// (atomically: a reader sees the old file or the new one, never a
    /// part), or choose another FILE.
    pub static OUTPUT_EXISTS = "E957", Error, "import-output-exists", "the import's output file already exists";
}

/// Every code `meshc import` raises (the catalogue gathers them).
pub static CODES: &[&Code] = &[
    &MALFORMED_YAML,
    &YAML_LIMIT,
    &yaml::DUPLICATE_KEY,
    &DUPLICATE_ADDRESS,
    &UNKNOWN_EGRESS_HOST,
    &IMPORT_WEIGHTS,
    &VM_FILE_DISAGREES,
    &NOT_EXPRESSIBLE,
    &yaml::YAML11_BOOLEAN,
    &ASSUMED,
    &assemble::UNSEEN_CALLER,
    &OUTPUT_EXISTS,
];

/// The codes of the VM-file readers (`vm_files`).
pub use vm_files::CODES as VM_FILE_CODES;

#[cfg(test)]
mod tests {
    use super::{FileKind, Path};

    /// `Path::of` as it was written first (components collected, then
    /// windows of them): the one-pass version must say the same of every
    /// name.
    fn reference(name: &str) -> Path {
        let parts: Vec<&str> = name
            .split(['/', '\\'])
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        let file_name = parts.last().copied().unwrap_or_default().to_owned();
        let mut path = Path {
            file_name: file_name.clone(),
            ..Path::default()
        };
        for w in parts.windows(3) {
            match w {
                ["kubernetes", "clusters", c] | ["control-plane", c, _] => {
                    path.cluster = Some((*c).to_owned())
                }
                ["vms", vm, _] => path.vm = Some((*vm).to_owned()),
                _ => {}
            }
        }
        if parts.windows(2).any(|w| w == ["kubernetes", "mesh"]) {
            path.mesh = true;
        }
        let prometheus_job = parts
            .windows(2)
            .any(|w| w[0] == "prometheus" && w[1] == "vm-sidecars.yaml");
        path.kind = FileKind::of(name, &file_name, path.vm.is_some(), prometheus_job);
        path
    }

    #[test]
    fn path_of_says_what_the_reference_says() {
        const PARTS: [&str; 20] = [
            "kubernetes",
            "clusters",
            "mesh",
            "control-plane",
            "vms",
            "prometheus",
            "vm-sidecars.yaml",
            "c-1",
            "vm-1",
            "mesh.yaml",
            "cluster.env",
            "install.sh",
            "RUNBOOK.md",
            "x.yaml",
            "a.json",
            ".",
            "..",
            "",
            "é.yml",
            "-",
        ];
        const SEPARATORS: [&str; 4] = ["/", "\\", "//", "/./"];
        // Every name of up to three components, then pseudo-random longer ones.
        let mut names = vec![String::new(), "-".to_owned(), "/".to_owned()];
        for a in PARTS {
            for b in PARTS {
                for c in PARTS {
                    names.push(format!("{a}/{b}/{c}"));
                }
            }
        }
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as usize % n
        };
        for _ in 0..50_000 {
            let mut name = String::new();
            if next(3) == 0 {
                name.push('/');
            }
            for i in 0..1 + next(7) {
                if i > 0 {
                    name.push_str(SEPARATORS[next(SEPARATORS.len())]);
                }
                name.push_str(PARTS[next(PARTS.len())]);
            }
            if next(5) == 0 {
                name.push('/');
            }
            names.push(name);
        }
        for name in &names {
            assert_eq!(
                format!("{:?}", Path::of(name)),
                format!("{:?}", reference(name)),
                "Path::of({name:?})"
            );
        }
    }
}
