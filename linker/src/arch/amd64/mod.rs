//! x86-64 (PE machine 0x8664).
//!
//! Relocations come from COFF objects (IMAGE_REL_AMD64_*, addends stored in the field, REL32_N
//! measured from the end of an instruction with N immediate bytes after the field) and from ELF
//! objects (R_X86_64_*, explicit addends). References: PE/COFF specification "Type Indicators";
//! x86-64 psABI §4.4 and appendix B (GOTPCRELX relaxation).
//!
//! UEFI loads an image anywhere, so only 64-bit absolute addresses survive (DIR64 base relocs); a
//! 32-bit absolute (`-fno-pic` small model: R_X86_64_32/32S, ADDR32) works only in an image pinned
//! below 2 GiB, which the user must ask for.
use super::{Arch, Machine, Relaxation};
use crate::input::Format;
use crate::reloc::table::r;
use crate::reloc::{Field, Formula, Range, RelocInfo};

pub struct Amd64;

use Field::*;
use Formula::*;
use Range::*;

const COFF: [Option<RelocInfo>; 12] = [
    Some(r("IMAGE_REL_AMD64_ABSOLUTE", None, Data32, Any)),
    Some(r("IMAGE_REL_AMD64_ADDR64", Abs, Data64, Any)),
    Some(r("IMAGE_REL_AMD64_ADDR32", Abs, Data32, Unsigned)),
    Some(r("IMAGE_REL_AMD64_ADDR32NB", ImageRel, Data32, Unsigned)),
    Some(r("IMAGE_REL_AMD64_REL32", Pcrel, Data32, Signed).with_bias(-4)),
    Some(r("IMAGE_REL_AMD64_REL32_1", Pcrel, Data32, Signed).with_bias(-5)),
    Some(r("IMAGE_REL_AMD64_REL32_2", Pcrel, Data32, Signed).with_bias(-6)),
    Some(r("IMAGE_REL_AMD64_REL32_3", Pcrel, Data32, Signed).with_bias(-7)),
    Some(r("IMAGE_REL_AMD64_REL32_4", Pcrel, Data32, Signed).with_bias(-8)),
    Some(r("IMAGE_REL_AMD64_REL32_5", Pcrel, Data32, Signed).with_bias(-9)),
    Some(r("IMAGE_REL_AMD64_SECTION", SectionIndex, Data16, Unsigned)),
    Some(r("IMAGE_REL_AMD64_SECREL", SecRel, Data32, Unsigned)),
];

const ELF: [Option<RelocInfo>; 43] = {
    let mut t = [Option::None; 43];
    t[0] = Some(r("R_X86_64_NONE", None, Data32, Any));
    t[1] = Some(r("R_X86_64_64", Abs, Data64, Any));
    t[2] = Some(r("R_X86_64_PC32", Pcrel, Data32, Signed));
    t[4] = Some(r("R_X86_64_PLT32", Pcrel, Data32, Signed));
    t[9] = Some(r("R_X86_64_GOTPCREL", GotPcrel, Data32, Signed));
    t[10] = Some(r("R_X86_64_32", Abs, Data32, Unsigned));
    t[11] = Some(r("R_X86_64_32S", Abs, Data32, Signed));
    t[24] = Some(r("R_X86_64_PC64", Pcrel, Data64, Any));
    t[25] = Some(r("R_X86_64_GOTOFF64", GotRel, Data64, Any));
    t[26] = Some(r("R_X86_64_GOTPC32", GotBasePcrel, Data32, Signed));
    t[27] = Some(r("R_X86_64_GOT64", GotSlot, Data64, Any));
    t[28] = Some(r("R_X86_64_GOTPCREL64", GotPcrel, Data64, Any));
    t[29] = Some(r("R_X86_64_GOTPC64", GotBasePcrel, Data64, Any));
    t[41] = Some(r("R_X86_64_GOTPCRELX", GotPcrel, Data32, Signed));
    t[42] = Some(r("R_X86_64_REX_GOTPCRELX", GotPcrel, Data32, Signed));
    t
};

/// `mov foo@GOTPCREL(%rip), %reg` relaxed to `lea foo(%rip), %reg`.
const GOTPCRELX_AS_LEA: RelocInfo = r("R_X86_64_GOTPCRELX (relaxed to lea)", Pcrel, Data32, Signed);

const MOV_LOAD: u8 = 0x8b;
const LEA: u8 = 0x8d;

/// A static, so that [`Arch::relaxation_of`] knows its result by address.
static MOV_AS_LEA: Relaxation = Relaxation {
    at: -2,
    byte: LEA,
    info: &GOTPCRELX_AS_LEA,
};

impl Arch for Amd64 {
    const MACHINE: Machine = Machine::Amd64;
    const NARROW_ABSOLUTE_HINT: &'static str =
        "recompile with -fpie (or -fpic), or pin a low image \
        with --image-base and opt in with --allow-absolute32";

    fn reloc_info(format: Format, r_type: u32) -> Option<&'static RelocInfo> {
        let table: &'static [Option<RelocInfo>] = match format {
            Format::Coff => &COFF,
            Format::Elf => &ELF,
        };
        table.get(r_type as usize)?.as_ref()
    }

    /// Only the `mov` form is rewritten: the image is far smaller than 2 GiB, so every defined
    /// symbol is reachable PC-relatively, and `mov`→`lea` keeps the instruction length.
    fn relax_got(
        info: &'static RelocInfo,
        section: &[u8],
        field: usize,
    ) -> Option<&'static Relaxation> {
        let relaxable = matches!(info.name, "R_X86_64_GOTPCRELX" | "R_X86_64_REX_GOTPCRELX");
        if relaxable && field >= 2 && section[field - 2] == MOV_LOAD {
            return Some(&MOV_AS_LEA);
        }
        Option::None
    }

    fn relaxation_of(info: &'static RelocInfo) -> Option<&'static Relaxation> {
        std::ptr::eq(info, MOV_AS_LEA.info).then_some(&MOV_AS_LEA)
    }
}

#[cfg(test)]
mod tests;
