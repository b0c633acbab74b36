//! Per-architecture knowledge. Each arch is a zero-sized type implementing [`Arch`]: its relocation
//! table (as data), its instruction rewrites and its PE machine value. The driver picks the arch once
//! and instantiates the whole pipeline for it, so the hot relocation loop dispatches statically.
use crate::consts::BaseRelocType;
pub use crate::consts::Machine;
use crate::error::Result;
use crate::input::{Format, InputSection, Relocs};
use crate::relax::{AlignRequest, Context, Labels, SectionEdits, Targets};
use crate::reloc::{Field, RelocInfo};

/// The relocations of one object that others pair with, by (section, offset): what
/// [`Arch::pair_lo12`] looks labels up in.
pub type PairLabels = rustc_hash::FxHashMap<(u32, u64), u32>;

pub mod amd64;
pub mod arm64;
pub mod loongarch64;
pub mod riscv64;
#[cfg(test)]
mod table_tests;

/// A rewrite of the instruction around a relocation, decided from the input bytes alone so that the
/// scan (which sizes the GOT) and the writer always agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relaxation {
    /// Offset of the byte to replace, relative to the relocated field.
    pub at: isize,
    pub byte: u8,
    /// The relocation once relaxed.
    pub info: &'static RelocInfo,
}

/// A range-extension thunk: code that reaches any address of the image, placed near direct
/// branches whose destination is beyond their reach; they branch to the thunk instead.
#[derive(Clone, Copy, Debug)]
pub struct Thunk {
    /// The field of the branches that may go through a thunk.
    pub branch: Field,
    pub code: &'static [u8],
    /// Relocations inside `code` against the destination: (offset, type).
    pub relocs: &'static [(u32, RelocInfo)],
}

/// Work to do with the arch a [`Machine`] names, generic over it: [`dispatch`] turns the machine
/// into its type and calls [`ArchVisitor::visit`] with it (wild's `link_for_arch`).
pub trait ArchVisitor {
    type Output;
    fn visit<A: Arch>(self) -> Self::Output;
}

/// The one place a machine becomes an arch type: everything after it is instantiated for that
/// arch and dispatches statically.
pub fn dispatch<V: ArchVisitor>(machine: Machine, visitor: V) -> V::Output {
    match machine {
        Machine::Amd64 => visitor.visit::<amd64::Amd64>(),
        Machine::Arm64 => visitor.visit::<arm64::Arm64>(),
        Machine::Riscv64 => visitor.visit::<riscv64::Riscv64>(),
        Machine::Loongarch64 => visitor.visit::<loongarch64::Loongarch64>(),
    }
}

pub trait Arch: 'static {
    const MACHINE: Machine;

    /// Range-extension thunks, for ISAs whose direct branches cannot span an image.
    const THUNK: Option<Thunk> = None;

    /// The relocation table: what a raw relocation type of the given object format computes and
    /// where the result goes. `None` for types the linker does not know.
    fn reloc_info(format: Format, r_type: u32) -> Option<&'static RelocInfo>;

    /// Bytes of the section a relocation of this type reads or writes at its offset (markers
    /// touch none). `None` for unknown types.
    fn field_size(format: Format, r_type: u32) -> Option<u32> {
        let info = Self::reloc_info(format, r_type)?;
        Some(match info.formula.touches() {
            true => info.field.size() as u32,
            false => 0,
        })
    }

    /// The type's name for diagnostics, also for unknown types.
    fn reloc_name(format: Format, r_type: u32) -> String {
        match Self::reloc_info(format, r_type) {
            Some(info) => info.name.to_string(),
            None => format!("{r_type} ({r_type:#x})"),
        }
    }

    /// A GOT-indirect access that can address its target directly. `field` is the offset of the
    /// relocated field within `section`.
    fn relax_got(
        info: &'static RelocInfo,
        section: &[u8],
        field: usize,
    ) -> Option<&'static Relaxation> {
        let _ = (info, section, field);
        None
    }

    /// The relaxation whose result is `info`, if it is one: the writer asks for the byte to
    /// replace, so a fixup need not carry it (a large link has hundreds of thousands).
    fn relaxation_of(info: &'static RelocInfo) -> Option<&'static Relaxation> {
        let _ = info;
        None
    }

    /// The relocation, `(section, index)` among the object's `sections`, that a relocation of a
    /// [`PcrelLo`](crate::reloc::Formula::PcrelLo) type against `label` takes its value from
    /// (RISC-V: the HI20 at the `auipc` the label names), or why there is none. The scan asks
    /// once per such relocation, so a missing partner is reported before any byte is written;
    /// `index` is the arch's index of the object, built on the first question. Arches whose
    /// tables hold no such type keep the default.
    fn pair_lo12(
        sections: &[InputSection],
        symbols: &impl Labels,
        label: u32,
        index: &mut Option<PairLabels>,
    ) -> std::result::Result<(u32, u32), String> {
        let _ = (sections, symbols, label, index);
        Err("this machine pairs no relocations".into())
    }

    /// Whether [`Arch::relax_section`] ever edits a section: when not, the relaxation phase
    /// skips the walk over every section.
    const EDITS_SECTIONS: bool = false;

    /// The bytes to delete and instructions to rewrite in one live section `sec` of the object
    /// `file` names (RISC-V, LoongArch), added to `edits` (empty). `order` holds the indices of
    /// its relocations in offset order ([`crate::relax::by_offset`]).
    fn relax_section(
        file: &str,
        sec: &InputSection,
        order: &[u32],
        targets: &impl Targets,
        ctx: &Context,
        edits: &mut SectionEdits,
    ) -> Result {
        let _ = (file, sec, order, targets, ctx, edits);
        Ok(())
    }

    /// The relocation a relocation of type `r_type` becomes once [`Arch::relax_section`] has
    /// shortened its instruction pair to one ([`SectionEdits::shorten_pair`]); `None` for types
    /// it never shortens.
    fn shortened(r_type: u32) -> Option<&'static RelocInfo> {
        let _ = r_type;
        None
    }

    /// How to fix an absolute address narrower than 64 bits, for the error message.
    const NARROW_ABSOLUTE_HINT: &'static str;

    /// What the absolute address built by the instruction of `relocs[index]` needs from the
    /// loader. By default firmware cannot patch instructions.
    fn absolute_insn(relocs: Relocs, index: usize) -> AbsoluteInsn {
        let _ = (relocs, index);
        AbsoluteInsn::Unsupported
    }
}

/// [`Arch::reloc_info`] of the arches whose objects are only ELF (LLVM writes no RISC-V or
/// LoongArch COFF): their `table` indexed by type.
fn elf_only(
    table: &'static [Option<RelocInfo>],
    format: Format,
    r_type: u32,
) -> Option<&'static RelocInfo> {
    match format {
        Format::Elf => table.get(r_type as usize)?.as_ref(),
        Format::Coff => None,
    }
}

/// An ALIGN relocation's padding once `deleted` earlier bytes of the section are gone: the part
/// alignment no longer needs is deleted (and counted into `deleted`); returns how many bytes of
/// it stay, in units of `granule`.
fn cut_align_padding(
    request: AlignRequest,
    file: &str,
    sec: &InputSection,
    granule: u64,
    deleted: &mut u32,
    edits: &mut SectionEdits,
) -> Result<u32> {
    let (keep, deletion) = request.cut(file, sec, *deleted, granule)?;
    if let Some(d) = deletion {
        *deleted += d.len;
        edits.delete(d);
    }
    Ok(keep)
}

/// How an absolute address held in instructions survives the image being moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbsoluteInsn {
    Unsupported,
    /// This instruction carries the base relocation for the whole sequence.
    BaseReloc(BaseRelocType),
    /// Another instruction's base relocation patches this one too.
    Covered,
}
