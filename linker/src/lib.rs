//! peln: a PE32+/UEFI linker.
//!
//! The link is a pipeline of phases, each borrowing the previous phase's result:
//! inputs → resolve → layout → write. The architecture is chosen once, by [`arch::dispatch`], and
//! the whole pipeline is instantiated for it.
pub mod arch;
pub mod consts;
pub mod debuginfo;
pub mod encoding;
pub mod error;
pub mod icf;
pub mod input;
pub mod layout;
pub mod map;
pub mod relax;
pub mod reloc;
pub mod resolve;
pub mod symbols;
pub mod write;

use std::path::PathBuf;

pub use consts::Machine;
pub use error::{Error, Result};
pub use layout::Subsystem;
/// `.reloc` blocks: the encoder lives beside its reader in the PE layer.
pub use peln_pe::baserel;

/// Everything `pectl link` was told. Plain data: no I/O happens while building it.
#[derive(Clone, Debug)]
pub struct LinkArgs {
    /// `None`: the machine of the first object among the inputs, as lld-link decides it.
    pub machine: Option<Machine>,
    pub output: PathBuf,
    /// Objects and archives. A bare file name that is not in the current directory is looked up
    /// in `lib_dirs`, as lld-link does with `/LIBPATH`.
    pub inputs: Vec<PathBuf>,
    /// Archives every object member of which is linked (`--whole-archive`, `/WHOLEARCHIVE`).
    pub whole_archives: Vec<PathBuf>,
    pub lib_dirs: Vec<PathBuf>,
    pub libs: Vec<String>,
    /// Which `/DEFAULTLIB` directives of objects' `.drectve` sections to honour.
    pub default_libs: DefaultLibs,
    /// Symbols to pull from archives and keep alive (`-u`, `/INCLUDE`).
    pub undefined: Vec<String>,
    pub entry: String,
    pub subsystem: Subsystem,
    /// MajorSubsystemVersion.MinorSubsystemVersion (`/SUBSYSTEM:name,6.0`).
    pub subsystem_version: (u16, u16),
    pub gc_sections: bool,
    /// Identical code folding (`--icf=`, `/OPT:ICF`); [`icf::Level::None`] skips the phase.
    pub icf: icf::Level,
    /// Drop DWARF (`--strip-debug`, `/DEBUG:NONE`) instead of copying it into the image.
    pub strip_debug: bool,
    pub map: Option<PathBuf>,
    pub image_base: Option<u64>,
    pub allow_absolute32: bool,
    pub relax: bool,
    pub sections: layout::SectionOptions,
    /// IMAGE_FILE_DLL (`/DLL`): EDK2 marks its drivers so.
    pub dll: bool,
    /// TimeDateStamp: SOURCE_DATE_EPOCH or 0, never the wall clock.
    pub timestamp: u32,
    /// The process ends after this link: leave the inputs mapped and the phases' data unfreed,
    /// as lld's `canExitEarly` does (freeing a million small allocations only delays the exit).
    pub exit_early: bool,
}

impl LinkArgs {
    /// The defaults of `pectl link`, lld-link and GNU ld agree on for a UEFI application.
    pub fn new(output: PathBuf) -> LinkArgs {
        LinkArgs {
            machine: None,
            output,
            inputs: Vec::new(),
            whole_archives: Vec::new(),
            lib_dirs: Vec::new(),
            libs: Vec::new(),
            default_libs: DefaultLibs::All,
            undefined: Vec::new(),
            entry: "efi_main".into(),
            subsystem: Subsystem::EfiApplication,
            subsystem_version: (0, 0),
            gc_sections: false,
            icf: icf::Level::None,
            strip_debug: false,
            map: None,
            image_base: None,
            allow_absolute32: false,
            relax: true,
            sections: layout::SectionOptions::default(),
            dll: false,
            timestamp: 0,
            exit_early: false,
        }
    }
}

/// `/NODEFAULTLIB` with and without a library name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefaultLibs {
    All,
    None,
    Except(Vec<String>),
}

impl DefaultLibs {
    fn wants(&self, name: &str) -> bool {
        let base = |n: &str| n.to_ascii_lowercase().trim_end_matches(".lib").to_string();
        match self {
            DefaultLibs::All => true,
            DefaultLibs::None => false,
            DefaultLibs::Except(names) => !names.iter().any(|n| base(n) == base(name)),
        }
    }
}

/// lld-link's default for 64-bit images.
pub const DEFAULT_IMAGE_BASE: u64 = 0x1_4000_0000;

/// Links the files `args` names and writes the image (and map) atomically. Returns the output
/// the image replaced, which is removed when dropped: a caller that reports success first need
/// not wait for that.
pub fn link(args: &LinkArgs) -> Result<peln_pe::output::Displaced> {
    let (paths, whole) = find_inputs(args)?;
    let output = peln_pe::output::FileId::at(&args.output);
    // The inputs are opened on a thread of the pool, in order, while the others parse those
    // already open (see input::Opening). The link itself stays on this thread (and its stack).
    let opening = input::Opening::new(&paths, &whole);
    let mut image = write::OutputFile::new(&args.output);
    let map = rayon::in_place_scope(|s| {
        s.spawn(|_| tracing::info_span!("open").in_scope(|| opening.open_ahead()));
        link_into(
            args,
            input::Files::Opening(&opening),
            Some(&paths),
            &mut image,
        )
    })?;
    let mapped = opening.into_mapped()?;
    // Renaming the image into place would replace that input: refused, and the staged image
    // removed. Compared with the status each input was mapped with, not by asking the file
    // system again for every input.
    if let Some(input) = output.and_then(|out| mapped.iter().find(|m| m.id == Some(out))) {
        return Err(Error::OutputIsInput {
            output: args.output.clone(),
            input: input.path.clone(),
        });
    }
    // The image is complete; the output path still holds whatever it held before.
    if args.exit_early {
        std::mem::forget(mapped);
    }

    if let (Some(path), Some(map)) = (&args.map, &map) {
        write::commit(path, map.as_bytes())?;
    }
    tracing::info_span!("commit").in_scope(|| image.commit())
}

/// What a link produces, before anything is written to disk.
pub struct Linked {
    pub image: Vec<u8>,
    /// The link map, when `args.map` asks for one.
    pub map: Option<String>,
}

/// Links in-memory inputs, each `(name for diagnostics, bytes)`, in command-line order;
/// `args.inputs`, `libs`, `output` and objects' `/DEFAULTLIB`s are not consulted (nothing is
/// read from disk). The fuzzers drive this.
pub fn link_buffers(args: &LinkArgs, files: &[(String, &[u8])]) -> Result<Linked> {
    let sources: Vec<input::Source> = files
        .iter()
        .map(|(name, bytes)| input::Source {
            name: name.clone(),
            bytes,
            whole: false,
        })
        .collect();
    let mut image = Vec::new();
    let map = link_into(args, input::Files::Given(&sources), None, &mut image)?;
    Ok(Linked { image, map })
}

/// Links `sources` into `out`; returns the map when `args.map` asks for one. `paths` are the
/// sources' files when they come from disk, where objects' `/DEFAULTLIB`s are then looked for.
fn link_into(
    args: &LinkArgs,
    sources: input::Files,
    paths: Option<&[PathBuf]>,
    out: &mut dyn write::Output,
) -> Result<Option<String>> {
    let machine = match args.machine {
        Some(m) => m,
        None => infer_machine(sources)?,
    };
    arch::dispatch(
        machine,
        Link {
            args,
            sources,
            paths,
            out,
        },
    )
}

/// A link, waiting for its arch.
struct Link<'a, 'd> {
    args: &'a LinkArgs,
    sources: input::Files<'d>,
    paths: Option<&'a [PathBuf]>,
    out: &'a mut dyn write::Output,
}

impl arch::ArchVisitor for Link<'_, '_> {
    type Output = Result<Option<String>>;
    fn visit<A: arch::Arch>(self) -> Self::Output {
        link_for_arch::<A>(self.args, self.sources, self.paths, self.out)
    }
}

/// The machine of the first object (an archive's first object member counts), as lld-link
/// infers `/MACHINE`; every other command-line object must agree.
fn infer_machine(sources: input::Files) -> Result<Machine> {
    let mut first: Option<(Machine, String)> = None;
    for i in 0..sources.len() {
        let source = sources.get(i)?;
        let Some(m) = input::sniff_machine(&source.name, source.bytes)? else {
            continue;
        };
        match &first {
            None => first = Some((m, source.name)),
            Some((fm, fname)) if *fm != m => {
                return Err(Error::MixedMachines {
                    first: format!("{fname} ({})", fm.name()),
                    second: format!("{} ({})", source.name, m.name()),
                })
            }
            Some(_) => {}
        }
    }
    first.map(|(m, _)| m).ok_or(Error::NoMachine)
}

/// What objects for `machine` are checked against when read.
pub fn expect(machine: Machine) -> input::Expect {
    struct Expect;
    impl arch::ArchVisitor for Expect {
        type Output = input::Expect;
        fn visit<A: arch::Arch>(self) -> input::Expect {
            expect_for::<A>()
        }
    }
    arch::dispatch(machine, Expect)
}

fn expect_for<A: arch::Arch>() -> input::Expect {
    input::Expect {
        machine: A::MACHINE,
        field_size: A::field_size,
    }
}

fn link_for_arch<A: arch::Arch>(
    args: &LinkArgs,
    sources: input::Files,
    paths: Option<&[PathBuf]>,
    out: &mut dyn write::Output,
) -> Result<Option<String>> {
    let expect = expect_for::<A>();
    let mut inputs = tracing::info_span!("parse").in_scope(|| input::load(sources, expect))?;
    // Every command-line object is parsed, checked and is for this machine; archives are indexed.
    let default_libs = match paths {
        Some(paths) => find_default_libs(args, &inputs, paths)?,
        None => Vec::new(),
    };
    let mapped_defaults = default_libs
        .iter()
        .map(|p| input::Mapped::open(p))
        .collect::<Result<Vec<_>>>()?;
    let default_sources: Vec<input::Source> =
        mapped_defaults.iter().map(input::Mapped::source).collect();
    inputs
        .archives
        .extend(input::load(input::Files::Given(&default_sources), expect)?.archives);
    // The `/DEFAULTLIB`s the objects ask for are indexed too.

    let resolved = tracing::info_span!("resolve").in_scope(|| {
        resolve::resolve(
            inputs,
            expect,
            &resolve::Options {
                entry: &args.entry,
                gc_sections: args.gc_sections,
                strip_debug: args.strip_debug,
                undefined: &args.undefined,
            },
        )
    })?;
    tracing::debug!(objects = resolved.objects.len(), "resolved");
    // Every live reference is bound; live sections are known.

    let (resolved, folds) =
        tracing::info_span!("icf").in_scope(|| icf::fold(resolved, args.icf))?;
    // Of each class of identical sections only the first is live; every target in the others
    // points into it.

    let relaxation = tracing::info_span!("relax")
        .in_scope(|| layout::relax::relax::<A>(&resolved, args.relax))?;
    // Every deletion and instruction rewrite is decided; section sizes are final.

    let layout = tracing::info_span!("layout").in_scope(|| {
        layout::compute::<A>(
            &resolved,
            relaxation,
            &layout::Options {
                image_base: args.image_base.unwrap_or(DEFAULT_IMAGE_BASE),
                allow_absolute32: args.allow_absolute32,
                sections: args.sections.clone(),
                header: layout::Header {
                    subsystem: args.subsystem,
                    subsystem_version: args.subsystem_version,
                    dll: args.dll,
                    timestamp: args.timestamp,
                },
            },
        )
    })?;
    tracing::debug!(size_of_image = layout.size_of_image, "laid out");
    // Every live relocation is decided (a fixup each), every chunk has its size and RVA and every
    // base relocation is known: the image is a plan of chunks, each able to write itself.

    tracing::info_span!("write").in_scope(|| {
        let target =
            tracing::debug_span!("target").in_scope(|| out.target(layout.file_size as usize))?;
        write::image::<A>(&resolved, &layout, target)
    })?;
    // The image is complete in `out`.
    let map = args
        .map
        .as_ref()
        .map(|_| map::render(&resolved, &layout, &folds));
    if args.exit_early {
        std::mem::forget(resolved);
        std::mem::forget(layout);
    }
    Ok(map)
}

/// Command-line inputs (a bare name missing from the current directory is looked up in the `-L`
/// directories, as lld-link does), then each `-l NAME` found in the `-L` directories.
/// Also returns the found paths of `whole_archives`.
fn find_inputs(args: &LinkArgs) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut paths = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut whole = Vec::new();
    let whole_inputs: std::collections::HashSet<&PathBuf> = args.whole_archives.iter().collect();
    for input in args.inputs.iter().chain(&args.whole_archives) {
        // Without a search path there is nowhere else to look: no stat of every input first
        // (a serial millisecond and more before a 1000-object link opens anything).
        let searched = !args.lib_dirs.is_empty() && input.components().count() == 1;
        let found = if searched && !input.exists() {
            args.lib_dirs
                .iter()
                .map(|d| d.join(input))
                .find(|p| p.is_file())
        } else {
            None
        };
        let path = found.unwrap_or_else(|| input.clone());
        if whole_inputs.contains(input) {
            whole.push(path.clone());
        }
        if seen.insert(path.clone()) {
            paths.push(path);
        }
    }
    for name in &args.libs {
        paths.push(find_library(args, name)?);
    }
    Ok((paths, whole))
}

/// `libNAME.a`, `NAME.lib`, `libNAME.lib`, or `NAME` itself in the `-L` directories, as GNU ld
/// and lld-link look libraries up.
fn find_library(args: &LinkArgs, name: &str) -> Result<PathBuf> {
    let candidates = [
        format!("lib{name}.a"),
        format!("{name}.lib"),
        format!("lib{name}.lib"),
        name.to_string(),
    ];
    args.lib_dirs
        .iter()
        .flat_map(|d| candidates.iter().map(move |c| d.join(c)))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::LibraryNotFound {
            name: name.to_string(),
            searched: args.lib_dirs.clone(),
        })
}

/// The libraries named by `/DEFAULTLIB` in the command-line objects' `.drectve` sections and not
/// excluded by `/NODEFAULTLIB`: lld-link links them as if named on the command line.
fn find_default_libs(
    args: &LinkArgs,
    inputs: &input::Inputs,
    already: &[PathBuf],
) -> Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = Vec::new();
    for name in inputs.objects.iter().flat_map(|o| &o.default_libs) {
        if !args.default_libs.wants(name) {
            continue;
        }
        let path = find_library(args, name)?;
        if !already.contains(&path) && !found.contains(&path) {
            found.push(path);
        }
    }
    Ok(found)
}

/// The name of a relocation type as the linker knows it (for `pectl inspect`).
pub fn reloc_type_name(machine: Machine, format: input::Format, r_type: u32) -> String {
    struct Name(input::Format, u32);
    impl arch::ArchVisitor for Name {
        type Output = String;
        fn visit<A: arch::Arch>(self) -> String {
            A::reloc_name(self.0, self.1)
        }
    }
    arch::dispatch(machine, Name(format, r_type))
}
