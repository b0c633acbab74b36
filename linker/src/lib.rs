//! peln: a PE32+/UEFI linker.
//!
//! The link is a pipeline of phases, each borrowing the previous phase's result:
//! inputs → resolve → layout → write. The architecture is chosen once, in [`link`], and the whole
//! pipeline is instantiated for it.
pub mod arch;
pub mod baserel;
pub mod consts;
pub mod debuginfo;
pub mod encoding;
pub mod error;
pub mod input;
pub mod layout;
pub mod map;
pub mod pe;
pub mod relax;
pub mod reloc;
pub mod resolve;
pub mod uki;
pub mod write;

use std::path::PathBuf;

pub use consts::Machine;
pub use error::{Error, Result};
pub use pe::Subsystem;

/// Everything `pectl link` was told. Plain data: no I/O happens while building it.
#[derive(Clone, Debug)]
pub struct LinkArgs {
    pub machine: Machine,
    pub output: PathBuf,
    pub inputs: Vec<PathBuf>,
    pub lib_dirs: Vec<PathBuf>,
    pub libs: Vec<String>,
    pub entry: String,
    pub subsystem: Subsystem,
    pub gc_sections: bool,
    pub map: Option<PathBuf>,
    pub image_base: Option<u64>,
    pub allow_absolute32: bool,
    pub relax: bool,
    /// TimeDateStamp: SOURCE_DATE_EPOCH or 0, never the wall clock.
    pub timestamp: u32,
}

impl LinkArgs {
    /// An EFI application for `machine` entered at `efi_main`, with every option at its default.
    pub fn new(machine: Machine, output: PathBuf) -> LinkArgs {
        LinkArgs {
            machine,
            output,
            inputs: Vec::new(),
            lib_dirs: Vec::new(),
            libs: Vec::new(),
            entry: "efi_main".into(),
            subsystem: Subsystem::EfiApplication,
            gc_sections: false,
            map: None,
            image_base: None,
            allow_absolute32: false,
            relax: true,
            timestamp: 0,
        }
    }
}

/// lld-link's default for 64-bit images.
pub const DEFAULT_IMAGE_BASE: u64 = 0x1_4000_0000;

/// Links the files `args` names and writes the image (and map) atomically.
pub fn link(args: &LinkArgs) -> Result {
    let paths = find_inputs(args)?;
    let mapped = paths
        .iter()
        .map(|p| input::Mapped::open(p))
        .collect::<Result<Vec<_>>>()?;
    let named: Vec<(String, &[u8])> = mapped
        .iter()
        .map(|m| (m.path.display().to_string(), m.bytes()))
        .collect();
    let mut image = write::OutputFile::new(&args.output);
    let map = link_into(args, &named, &mut image)?;
    // The image is complete; the output path still holds whatever it held before.

    if let (Some(path), Some(map)) = (&args.map, &map) {
        write::commit(path, map.as_bytes())?;
    }
    image.commit()
}

/// What a link produces, before anything is written to disk.
pub struct Linked {
    pub image: Vec<u8>,
    /// The link map, when `args.map` asks for one.
    pub map: Option<String>,
}

/// Links in-memory inputs, each `(name for diagnostics, bytes)`, in command-line order;
/// `args.inputs`, `libs` and `output` are not consulted. The fuzzers drive this.
pub fn link_buffers(args: &LinkArgs, files: &[(String, &[u8])]) -> Result<Linked> {
    let mut image = Vec::new();
    let map = link_into(args, files, &mut image)?;
    Ok(Linked { image, map })
}

/// Links `files` into `out`; returns the map when `args.map` asks for one.
fn link_into(
    args: &LinkArgs,
    files: &[(String, &[u8])],
    out: &mut dyn write::Output,
) -> Result<Option<String>> {
    match args.machine {
        Machine::Amd64 => link_for_arch::<arch::amd64::Amd64>(args, files, out),
        Machine::Arm64 => link_for_arch::<arch::arm64::Arm64>(args, files, out),
        Machine::Riscv64 => link_for_arch::<arch::riscv64::Riscv64>(args, files, out),
        Machine::Loongarch64 => link_for_arch::<arch::loongarch64::Loongarch64>(args, files, out),
    }
}

/// What objects for `machine` are checked against when read.
pub fn expect(machine: Machine) -> input::Expect {
    match machine {
        Machine::Amd64 => expect_for::<arch::amd64::Amd64>(),
        Machine::Arm64 => expect_for::<arch::arm64::Arm64>(),
        Machine::Riscv64 => expect_for::<arch::riscv64::Riscv64>(),
        Machine::Loongarch64 => expect_for::<arch::loongarch64::Loongarch64>(),
    }
}

fn expect_for<A: arch::Arch>() -> input::Expect {
    input::Expect {
        machine: A::MACHINE,
        field_size: A::field_size,
    }
}

fn link_for_arch<A: arch::Arch>(
    args: &LinkArgs,
    files: &[(String, &[u8])],
    out: &mut dyn write::Output,
) -> Result<Option<String>> {
    let expect = expect_for::<A>();
    let inputs = input::load(files, expect)?;
    // Every command-line object is parsed, checked and is for this machine; archives are indexed.

    let resolved = resolve::resolve(
        inputs,
        expect,
        &resolve::Options {
            entry: &args.entry,
            gc_sections: args.gc_sections,
        },
    )?;
    tracing::debug!(objects = resolved.objects.len(), "resolved");
    // Every live reference is bound; live sections are known.

    let relaxation = relax::relax::<A>(&resolved, args.relax)?;
    // Every deletion and instruction rewrite is decided; section sizes are final.

    let layout = layout::compute::<A>(
        &resolved,
        relaxation,
        &layout::Options {
            image_base: args.image_base.unwrap_or(DEFAULT_IMAGE_BASE),
            allow_absolute32: args.allow_absolute32,
        },
    )?;
    tracing::debug!(size_of_image = layout.size_of_image, "laid out");
    // Every chunk has an RVA and every base relocation is known.

    let header = pe::Header {
        subsystem: args.subsystem,
        timestamp: args.timestamp,
        low_image: layout
            .base_relocs
            .iter()
            .any(|r| r.typ == baserel::BaseRelocType::HighLow),
    };
    write::image::<A>(
        &resolved,
        &layout,
        &header,
        out.buffer(layout.file_size as usize)?,
    )?;
    // The image is complete in `out`.
    Ok(args.map.as_ref().map(|_| map::render(&resolved, &layout)))
}

/// Command-line inputs, then each `-l NAME` found in the `-L` directories (`libNAME.a`,
/// `NAME.lib`, `libNAME.lib`, or `NAME` itself), as GNU ld and lld-link look them up.
fn find_inputs(args: &LinkArgs) -> Result<Vec<PathBuf>> {
    let mut paths = args.inputs.clone();
    for name in &args.libs {
        let candidates = [
            format!("lib{name}.a"),
            format!("{name}.lib"),
            format!("lib{name}.lib"),
            name.clone(),
        ];
        let found = args
            .lib_dirs
            .iter()
            .flat_map(|d| candidates.iter().map(move |c| d.join(c)))
            .find(|p| p.is_file());
        match found {
            Some(p) => paths.push(p),
            None => {
                return Err(Error::LibraryNotFound {
                    name: name.clone(),
                    searched: args.lib_dirs.clone(),
                })
            }
        }
    }
    Ok(paths)
}

/// The name of a relocation type as the linker knows it (for `pectl inspect`).
pub fn reloc_type_name(machine: Machine, format: input::Format, r_type: u32) -> String {
    use arch::Arch;
    match machine {
        Machine::Amd64 => arch::amd64::Amd64::reloc_name(format, r_type),
        Machine::Arm64 => arch::arm64::Arm64::reloc_name(format, r_type),
        Machine::Riscv64 => arch::riscv64::Riscv64::reloc_name(format, r_type),
        Machine::Loongarch64 => arch::loongarch64::Loongarch64::reloc_name(format, r_type),
    }
}
