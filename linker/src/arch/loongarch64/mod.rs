//! LoongArch 64 (PE machine 0x6264; `object` has no constant for it), ELF objects only.
//!
//! ISA quirks that shape this file (LoongArch ELF psABI v2, "Relocations"):
//! - `pcalau12i` works like AArch64 `adrp`, but the low-12 instructions sign-extend their
//!   immediate, so the page arithmetic rounds (`reloc::page_delta`); the extreme code model adds
//!   `lu32i.d`/`lu52i.d` halves measured from the `pcalau12i` 8 and 12 bytes back.
//! - clang addresses extern data through the GOT even without `-fpie`: GOT_PC_HI20/LO12 get slots
//!   with DIR64 base relocations.
//! - `la.abs` is `lu12i.w, ori, lu32i.d, lu52i.d` (ABS_HI20, ABS_LO12, ABS64_LO20, ABS64_HI12):
//!   edk2 relocates the four instructions as one 64-bit address from a single
//!   IMAGE_REL_BASED_LOONGARCH64_MARK_LA entry on the first, so the sequence must be contiguous.
//! - R_LARCH_ALIGN marks NOP padding (addend = padding bytes, or with a symbol: bits 7..0 the
//!   alignment exponent, the rest the most bytes to skip); the linker cuts it after deletions.
//! - With R_LARCH_RELAX, `pcaddu18i+jirl` (CALL36) becomes `bl`/`b` and `pcalau12i+addi.d`
//!   (PCALA_HI20+LO12) becomes `pcaddi` when the target is in reach.
pub mod encoding;

use self::encoding::{self as loongarch, Insn as La};
use super::{AbsoluteInsn, Arch, Machine};
use crate::consts::BaseRelocType;
use crate::encoding::bits::read32;
use crate::error::Result;
use crate::input::{Format, InputSection, Reloc, Relocs};
use crate::relax::{self, AlignRequest, Context, SectionEdits, Targets};
use crate::reloc::table::{la, page, r};
use crate::reloc::{Field, Formula, Range, RelocInfo};

pub struct Loongarch64;

pub const R_LARCH_ABS_HI20: u32 = 67;
pub const R_LARCH_ABS_LO12: u32 = 68;
pub const R_LARCH_ABS64_LO20: u32 = 69;
pub const R_LARCH_ABS64_HI12: u32 = 70;
pub const R_LARCH_PCALA_HI20: u32 = 71;
pub const R_LARCH_PCALA_LO12: u32 = 72;
pub const R_LARCH_RELAX: u32 = 100;
pub const R_LARCH_ALIGN: u32 = 102;
pub const R_LARCH_CALL36: u32 = 110;

use Field::{Data16, Data32, Data6, Data64, Data8, Uleb128};
use Formula::{Abs, Add, Got, Marker, Pcrel, Relative, Set, Sub};
use Range::{Any, Signed, Unsigned};

const TABLE: [Option<RelocInfo>; 111] = {
    let mut t = [None; 111];
    t[0] = Some(r("R_LARCH_NONE", Formula::None, Data32, Any));
    t[1] = Some(r("R_LARCH_32", Abs, Data32, Unsigned));
    t[2] = Some(r("R_LARCH_64", Abs, Data64, Any));
    t[3] = Some(r("R_LARCH_RELATIVE", Relative, Data64, Any));
    t[20] = Some(r("R_LARCH_MARK_LA", Marker, Data32, Any));
    t[21] = Some(r("R_LARCH_MARK_PCREL", Marker, Data32, Any));
    t[47] = Some(r("R_LARCH_ADD8", Add, Data8, Any));
    t[48] = Some(r("R_LARCH_ADD16", Add, Data16, Any));
    t[50] = Some(r("R_LARCH_ADD32", Add, Data32, Any));
    t[51] = Some(r("R_LARCH_ADD64", Add, Data64, Any));
    t[52] = Some(r("R_LARCH_SUB8", Sub, Data8, Any));
    t[53] = Some(r("R_LARCH_SUB16", Sub, Data16, Any));
    t[55] = Some(r("R_LARCH_SUB32", Sub, Data32, Any));
    t[56] = Some(r("R_LARCH_SUB64", Sub, Data64, Any));
    t[64] = Some(r("R_LARCH_B16", Pcrel, la(La::B16), Signed));
    t[65] = Some(r("R_LARCH_B21", Pcrel, la(La::B21), Signed));
    t[66] = Some(r("R_LARCH_B26", Pcrel, la(La::B26), Signed));
    t[67] = Some(r("R_LARCH_ABS_HI20", Abs, la(La::Hi20), Any));
    t[68] = Some(r("R_LARCH_ABS_LO12", Abs, la(La::Lo12), Any));
    t[69] = Some(r("R_LARCH_ABS64_LO20", Abs, la(La::Lo20), Any));
    t[70] = Some(r("R_LARCH_ABS64_HI12", Abs, la(La::Hi12), Any));
    t[71] = Some(r(
        "R_LARCH_PCALA_HI20",
        page(false, 0),
        la(La::Hi20),
        Signed,
    ));
    t[72] = Some(r("R_LARCH_PCALA_LO12", Set, la(La::Lo12), Any));
    t[73] = Some(r("R_LARCH_PCALA64_LO20", page(false, 8), la(La::Lo20), Any));
    t[74] = Some(r(
        "R_LARCH_PCALA64_HI12",
        page(false, 12),
        la(La::Hi12),
        Any,
    ));
    t[75] = Some(r(
        "R_LARCH_GOT_PC_HI20",
        page(true, 0),
        la(La::Hi20),
        Signed,
    ));
    t[76] = Some(r("R_LARCH_GOT_PC_LO12", Got, la(La::Lo12), Any));
    t[77] = Some(r("R_LARCH_GOT64_PC_LO20", page(true, 8), la(La::Lo20), Any));
    t[78] = Some(r(
        "R_LARCH_GOT64_PC_HI12",
        page(true, 12),
        la(La::Hi12),
        Any,
    ));
    t[99] = Some(r("R_LARCH_32_PCREL", Pcrel, Data32, Signed));
    t[100] = Some(r("R_LARCH_RELAX", Marker, Data32, Any));
    t[102] = Some(r("R_LARCH_ALIGN", Marker, Data32, Any));
    t[103] = Some(r("R_LARCH_PCREL20_S2", Pcrel, la(La::Pcrel20S2), Signed));
    t[105] = Some(r("R_LARCH_ADD6", Add, Data6, Any));
    t[106] = Some(r("R_LARCH_SUB6", Sub, Data6, Any));
    t[107] = Some(r("R_LARCH_ADD_ULEB128", Add, Uleb128, Any));
    t[108] = Some(r("R_LARCH_SUB_ULEB128", Sub, Uleb128, Any));
    t[109] = Some(r("R_LARCH_64_PCREL", Pcrel, Data64, Any));
    t[110] = Some(r("R_LARCH_CALL36", Pcrel, la(La::Call36), Signed));
    t
};

/// Relaxed forms: the relocation a rewritten instruction takes instead.
const CALL36_AS_B26: RelocInfo = r("R_LARCH_CALL36 (relaxed to bl)", Pcrel, la(La::B26), Signed);
const PCALA_AS_PCADDI: RelocInfo = r(
    "R_LARCH_PCALA_HI20 (relaxed to pcaddi)",
    Pcrel,
    la(La::Pcrel20S2),
    Signed,
);

/// `bl` reaches ±128 MiB, `pcaddi` ±2 MiB.
const B26_REACH: u64 = 1 << 27;
const PCADDI_REACH: u64 = 1 << 21;

/// The `la.abs` sequence edk2's MARK_LA fixup patches: each type at its offset from the first.
const LA_ABS: [(u32, u32); 4] = [
    (R_LARCH_ABS_HI20, 0),
    (R_LARCH_ABS_LO12, 4),
    (R_LARCH_ABS64_LO20, 8),
    (R_LARCH_ABS64_HI12, 12),
];

impl Arch for Loongarch64 {
    const MACHINE: Machine = Machine::Loongarch64;
    const NARROW_ABSOLUTE_HINT: &'static str = "an absolute address in LoongArch code must be a \
        complete `la.abs` sequence (lu12i.w, ori, lu32i.d, lu52i.d in a row), which firmware \
        relocates as one; otherwise use PC-relative addressing (the default code models)";

    fn reloc_info(format: Format, r_type: u32) -> Option<&'static RelocInfo> {
        super::elf_only(&TABLE, format, r_type)
    }

    fn absolute_insn(relocs: Relocs, index: usize) -> AbsoluteInsn {
        let r = relocs.get(index);
        let Some(&(_, at)) = LA_ABS.iter().find(|(t, _)| *t == r.r_type) else {
            return AbsoluteInsn::Unsupported;
        };
        let start = r.offset.wrapping_sub(at);
        let complete = LA_ABS.iter().all(|&(t, off)| {
            relocs.iter().any(|o| {
                o.r_type == t
                    && o.offset == start + off
                    && o.symbol == r.symbol
                    && o.addend == r.addend
            })
        });
        match (complete, at) {
            (false, _) => AbsoluteInsn::Unsupported,
            (true, 0) => AbsoluteInsn::BaseReloc(BaseRelocType::MarkLa),
            (true, _) => AbsoluteInsn::Covered,
        }
    }

    const EDITS_SECTIONS: bool = true;

    fn shortened(r_type: u32) -> Option<&'static RelocInfo> {
        match r_type {
            R_LARCH_CALL36 => Some(&CALL36_AS_B26),
            R_LARCH_PCALA_HI20 => Some(&PCALA_AS_PCADDI),
            _ => None,
        }
    }

    fn relax_section(
        file: &str,
        sec: &InputSection,
        order: &[u32],
        targets: &impl Targets,
        ctx: &Context,
        edits: &mut SectionEdits,
    ) -> Result {
        let relocs = sec.relocs();
        let at_offset = |offset: u32, r_type: u32| relax::at_offset(sec, order, offset, r_type);
        let marked = |i: usize| at_offset(relocs.get(i).offset, R_LARCH_RELAX).is_some();
        // `pcaddi` counts words: the target must be 4-byte aligned wherever layout puts it.
        let word_aligned = |symbol: u32, addend: i64| targets.alignment(symbol, addend) >= 4;
        let word = |offset: u32| read32(&sec.data[offset as usize..]);
        // Whether any call, or any address pair, can be in reach of the short form in this
        // image: asked before the per-relocation checks, which are not free.
        let calls = ctx.enabled && ctx.text_span < B26_REACH;
        let addresses = ctx.enabled && ctx.image_span < PCADDI_REACH;
        let mut deleted = 0u32;
        for &i in order {
            let i = i as usize;
            let r = relocs.get(i);
            match r.r_type {
                R_LARCH_ALIGN => {
                    let (align, padding, max_skip) = align_request(&r);
                    let request = AlignRequest {
                        reloc: "R_LARCH_ALIGN",
                        offset: r.offset,
                        align,
                        padding,
                        max_skip,
                    };
                    // The padding is whole 4-byte `nop`s: the kept prefix stays valid code.
                    super::cut_align_padding(request, file, sec, 4, &mut deleted, edits)?;
                }
                R_LARCH_CALL36 if calls && marked(i) && targets.in_text(r.symbol) => {
                    if r.offset as usize + 8 > sec.data.len() {
                        continue;
                    }
                    let jirl = word(r.offset + 4);
                    let op = match loongarch::rd(jirl) {
                        loongarch::RA => loongarch::BL,
                        loongarch::ZERO => loongarch::B,
                        _ => continue,
                    };
                    deleted += edits.shorten_pair(r.offset, op, i);
                }
                R_LARCH_PCALA_HI20
                    if addresses && marked(i) && word_aligned(r.symbol, r.addend) =>
                {
                    let Some(lo) = at_offset(r.offset + 4, R_LARCH_PCALA_LO12) else {
                        continue;
                    };
                    let l = relocs.get(lo);
                    if !marked(lo) || l.symbol != r.symbol || l.addend != r.addend {
                        continue;
                    }
                    if r.offset as usize + 8 > sec.data.len() {
                        continue;
                    }
                    // pcalau12i $rd; addi.d $rd, $rd, lo: one register, used by the pair only.
                    let (hi, add) = (word(r.offset), word(r.offset + 4));
                    let rd = loongarch::rd(hi);
                    if loongarch::rd(add) != rd || loongarch::rj(add) != rd || add >> 22 != ADDI_D {
                        continue;
                    }
                    let pcaddi = loongarch::PCADDI | rd;
                    deleted += edits.shorten_pair(r.offset, pcaddi, i);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// `addi.d` opcode (bits 31..22).
const ADDI_D: u32 = 0x00b;

/// (alignment, bytes of NOP padding present, most bytes to skip or 0 for no limit).
fn align_request(r: &Reloc) -> (u64, u64, u64) {
    if r.symbol == 0 {
        // Addend = padding = alignment - 4.
        let padding = r.addend.max(0) as u64;
        (padding + 4, padding, 0)
    } else {
        let exp = (r.addend & 0xff) as u32;
        let align = 1u64 << exp.min(32);
        (align, align.saturating_sub(4), (r.addend as u64) >> 8)
    }
}

#[cfg(test)]
mod tests;
