//! AArch64 (PE machine 0xAA64), from COFF (IMAGE_REL_ARM64_*) and ELF (R_AARCH64_*) objects.
//!
//! ISA quirks that shape this file (PE/COFF specification "ARM64 Processors"; ELF for the Arm
//! 64-bit Architecture, "Relocation"):
//! - Addresses are built in two instructions: `adrp` takes the 4 KiB page delta
//!   `Page(S+A) - Page(P)` (±4 GiB), then an `add` or a load/store supplies the low 12 bits, which
//!   a load/store scales by its access size; a low part that is not a multiple of that size cannot
//!   be encoded and is an error.
//! - COFF keeps addends in the instruction: in `adrp` the immediate is a *byte* addend (MSVC's
//!   convention, adopted by lld), in a load/store it is in units of the access size, in a branch in
//!   words. `encoding` reads them back in bytes.
//! - `b`/`bl` reach ±128 MiB. Beyond that a branch goes through a range-extension thunk placed
//!   after its section (`layout/thunks.rs`), as lld and mold do; the thunk clobbers x16 (IP0),
//!   which the procedure call standard reserves for exactly this.
//! - PE has no base relocation for an address split over `movz`/`movk` (MOVW_UABS_*, the large
//!   code model): those are accepted only against absolute symbols. GOT slots hold 64-bit words
//!   with DIR64 base relocations. The `adrp`+`ldr` GOT pair is not relaxed to `adrp`+`add`: both
//!   instructions would have to change together, and the slot costs only 8 bytes.
pub mod encoding;

use self::encoding::Insn as A64;
use super::{Arch, Machine, Thunk};
use crate::input::Format;
use crate::reloc::table::{a64, r};
use crate::reloc::{Field, Formula, Range, RelocInfo};

pub struct Arm64;

use Field::{Data16, Data32, Data64};
use Formula::{
    Abs, GotPageOffset, GotPagePcrel, ImageRel, PageOffset, PagePcrel, Pcrel, SecRel, SectionIndex,
};
use Range::{Any, Signed, Unsigned};
use A64::{AddHi12, AddLo12, Adr, Adrp, Branch14, Branch19, Branch26, LdSt, LdStSized, Movw};

const COFF: [Option<RelocInfo>; 18] = {
    let mut t = [None; 18];
    t[0x0] = Some(r("IMAGE_REL_ARM64_ABSOLUTE", Formula::None, Data32, Any));
    t[0x1] = Some(r("IMAGE_REL_ARM64_ADDR32", Abs, Data32, Unsigned));
    t[0x2] = Some(r("IMAGE_REL_ARM64_ADDR32NB", ImageRel, Data32, Unsigned));
    t[0x3] = Some(r("IMAGE_REL_ARM64_BRANCH26", Pcrel, a64(Branch26), Signed));
    t[0x4] = Some(r(
        "IMAGE_REL_ARM64_PAGEBASE_REL21",
        PagePcrel,
        a64(Adrp),
        Signed,
    ));
    t[0x5] = Some(r("IMAGE_REL_ARM64_REL21", Pcrel, a64(Adr), Signed));
    t[0x6] = Some(r(
        "IMAGE_REL_ARM64_PAGEOFFSET_12A",
        PageOffset,
        a64(AddLo12),
        Any,
    ));
    t[0x7] = Some(r(
        "IMAGE_REL_ARM64_PAGEOFFSET_12L",
        PageOffset,
        a64(LdStSized),
        Any,
    ));
    t[0x8] = Some(r("IMAGE_REL_ARM64_SECREL", SecRel, Data32, Unsigned));
    t[0x9] = Some(r(
        "IMAGE_REL_ARM64_SECREL_LOW12A",
        SecRel,
        a64(AddLo12),
        Any,
    ));
    t[0xa] = Some(r(
        "IMAGE_REL_ARM64_SECREL_HIGH12A",
        SecRel,
        a64(AddHi12),
        Unsigned,
    ));
    t[0xb] = Some(r(
        "IMAGE_REL_ARM64_SECREL_LOW12L",
        SecRel,
        a64(LdStSized),
        Any,
    ));
    t[0xd] = Some(r("IMAGE_REL_ARM64_SECTION", SectionIndex, Data16, Unsigned));
    t[0xe] = Some(r("IMAGE_REL_ARM64_ADDR64", Abs, Data64, Any));
    t[0xf] = Some(r("IMAGE_REL_ARM64_BRANCH19", Pcrel, a64(Branch19), Signed));
    t[0x10] = Some(r("IMAGE_REL_ARM64_BRANCH14", Pcrel, a64(Branch14), Signed));
    // Measured from the end of the 4-byte field, like amd64's REL32 (lld: `s - p - 4`).
    t[0x11] = Some(r("IMAGE_REL_ARM64_REL32", Pcrel, Data32, Signed).with_bias(-4));
    t
};

const R_AARCH64_NONE: RelocInfo = r("R_AARCH64_NONE", Formula::None, Data32, Any);

/// R_AARCH64_* numbers start at 257 (ABS64); the table is indexed from 256.
const ELF_FIRST: u32 = 256;

const ELF: [Option<RelocInfo>; 57] = {
    let mut t = [None; 57];
    t[257 - 256] = Some(r("R_AARCH64_ABS64", Abs, Data64, Any));
    t[258 - 256] = Some(r("R_AARCH64_ABS32", Abs, Data32, Unsigned));
    t[260 - 256] = Some(r("R_AARCH64_PREL64", Pcrel, Data64, Any));
    t[261 - 256] = Some(r("R_AARCH64_PREL32", Pcrel, Data32, Signed));
    t[263 - 256] = Some(r("R_AARCH64_MOVW_UABS_G0", Abs, a64(Movw(0)), Unsigned));
    t[264 - 256] = Some(r("R_AARCH64_MOVW_UABS_G0_NC", Abs, a64(Movw(0)), Any));
    t[265 - 256] = Some(r("R_AARCH64_MOVW_UABS_G1", Abs, a64(Movw(1)), Unsigned));
    t[266 - 256] = Some(r("R_AARCH64_MOVW_UABS_G1_NC", Abs, a64(Movw(1)), Any));
    t[267 - 256] = Some(r("R_AARCH64_MOVW_UABS_G2", Abs, a64(Movw(2)), Unsigned));
    t[268 - 256] = Some(r("R_AARCH64_MOVW_UABS_G2_NC", Abs, a64(Movw(2)), Any));
    t[269 - 256] = Some(r("R_AARCH64_MOVW_UABS_G3", Abs, a64(Movw(3)), Any));
    t[274 - 256] = Some(r("R_AARCH64_ADR_PREL_LO21", Pcrel, a64(Adr), Signed));
    t[275 - 256] = Some(r(
        "R_AARCH64_ADR_PREL_PG_HI21",
        PagePcrel,
        a64(Adrp),
        Signed,
    ));
    t[277 - 256] = Some(r(
        "R_AARCH64_ADD_ABS_LO12_NC",
        PageOffset,
        a64(AddLo12),
        Any,
    ));
    t[278 - 256] = Some(r(
        "R_AARCH64_LDST8_ABS_LO12_NC",
        PageOffset,
        a64(LdSt(0)),
        Any,
    ));
    t[279 - 256] = Some(r("R_AARCH64_TSTBR14", Pcrel, a64(Branch14), Signed));
    t[280 - 256] = Some(r("R_AARCH64_CONDBR19", Pcrel, a64(Branch19), Signed));
    t[282 - 256] = Some(r("R_AARCH64_JUMP26", Pcrel, a64(Branch26), Signed));
    t[283 - 256] = Some(r("R_AARCH64_CALL26", Pcrel, a64(Branch26), Signed));
    t[284 - 256] = Some(r(
        "R_AARCH64_LDST16_ABS_LO12_NC",
        PageOffset,
        a64(LdSt(1)),
        Any,
    ));
    t[285 - 256] = Some(r(
        "R_AARCH64_LDST32_ABS_LO12_NC",
        PageOffset,
        a64(LdSt(2)),
        Any,
    ));
    t[286 - 256] = Some(r(
        "R_AARCH64_LDST64_ABS_LO12_NC",
        PageOffset,
        a64(LdSt(3)),
        Any,
    ));
    t[299 - 256] = Some(r(
        "R_AARCH64_LDST128_ABS_LO12_NC",
        PageOffset,
        a64(LdSt(4)),
        Any,
    ));
    t[311 - 256] = Some(r("R_AARCH64_ADR_GOT_PAGE", GotPagePcrel, a64(Adrp), Signed));
    t[312 - 256] = Some(r(
        "R_AARCH64_LD64_GOT_LO12_NC",
        GotPageOffset,
        a64(LdSt(3)),
        Any,
    ));
    t
};

/// Thunk code, 12 bytes: reaches ±4 GiB, so any address of a PE32+ image.
#[rustfmt::skip]
const THUNK_CODE: [u8; 12] = [
    0x10, 0x00, 0x00, 0x90, // adrp x16, dest
    0x10, 0x02, 0x00, 0x91, // add  x16, x16, :lo12:dest
    0x00, 0x02, 0x1f, 0xd6, // br   x16
];
const _: () = assert!(THUNK_CODE.len() == 3 * 4);

const THUNK_RELOCS: [(u32, RelocInfo); 2] = [
    (
        0,
        r("range-extension thunk ADRP", PagePcrel, a64(Adrp), Signed),
    ),
    (
        4,
        r("range-extension thunk ADD", PageOffset, a64(AddLo12), Any),
    ),
];

impl Arch for Arm64 {
    const MACHINE: Machine = Machine::Arm64;

    const NARROW_ABSOLUTE_HINT: &'static str = "an address split over movz/movk (-mcmodel=large) \
        has no PE base relocation: use the default small code model; for 32-bit data words pin a \
        low image with --image-base and opt in with --allow-absolute32";

    const THUNK: Option<Thunk> = Some(Thunk {
        branch: a64(Branch26),
        code: &THUNK_CODE,
        relocs: &THUNK_RELOCS,
    });

    fn reloc_info(format: Format, r_type: u32) -> Option<&'static RelocInfo> {
        match (format, r_type) {
            (Format::Coff, t) => COFF.get(t as usize)?.as_ref(),
            (Format::Elf, 0) => Some(&R_AARCH64_NONE),
            (Format::Elf, t) => ELF.get(t.checked_sub(ELF_FIRST)? as usize)?.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests;
