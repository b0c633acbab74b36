//! RISC-V 64 (PE machine 0x5064), ELF objects only (LLVM cannot emit RISC-V COFF).
//!
//! ISA quirks that shape this file (RISC-V ELF psABI, "Relocations" and "Linker Relaxation"):
//! - PC-relative addresses are `auipc` (PCREL_HI20) + a low-12 instruction whose PCREL_LO12_I/S
//!   relocation names the *label of the `auipc`*, not the target; the pair is matched by that
//!   label here ([`Arch::pair_lo12`], asked by the layout scan), and several LO12s may share one
//!   HI20.
//! - The assembler pads alignment with NOPs and marks them with R_RISCV_ALIGN (addend = bytes of
//!   padding). Once any earlier byte is deleted the padding is wrong, so ALIGN is honoured even
//!   with `--no-relax` (as mold does).
//! - `auipc ra, hi; jalr ra, lo(ra)` calls marked R_RISCV_RELAX become one `jal` when the target
//!   is in reach.
//! - UEFI firmware cannot relocate HI20/LO12 absolute pairs in an application (edk2's RISC-V loader
//!   dereferences a NULL fixup pointer for IMAGE_REL_BASED_RISCV_HIGH20): only 64-bit absolute
//!   words are base-relocated, and absolute HI20/LO12 is an error asking for `-mcmodel=medany`.
pub mod encoding;

use self::encoding::{self as riscv, Insn as Rv};
use super::{Arch, Machine, PairLabels};
use crate::encoding::bits::read32;
use crate::error::Result;
use crate::input::{Format, InputSection};
use crate::relax::{AlignRequest, Context, Labels, SectionEdits, Targets};
use crate::reloc::table::{r, rv};
use crate::reloc::{Field, Formula, Range, RelocInfo};

pub struct Riscv64;

pub const R_RISCV_CALL: u32 = 18;
pub const R_RISCV_CALL_PLT: u32 = 19;
pub const R_RISCV_GOT_HI20: u32 = 20;
pub const R_RISCV_PCREL_HI20: u32 = 23;
pub const R_RISCV_ALIGN: u32 = 43;
pub const R_RISCV_RELAX: u32 = 51;

use Field::{Data16, Data32, Data6, Data64, Data8, Uleb128};
use Formula::{Abs, Add, GotPcrel, Marker, Pcrel, PcrelLo, Set, Sub};
use Range::{Any, Signed, Unsigned};

const TABLE: [Option<RelocInfo>; 62] = {
    let mut t = [None; 62];
    t[0] = Some(r("R_RISCV_NONE", Formula::None, Data32, Any));
    t[1] = Some(r("R_RISCV_32", Abs, Data32, Unsigned));
    t[2] = Some(r("R_RISCV_64", Abs, Data64, Any));
    t[16] = Some(r("R_RISCV_BRANCH", Pcrel, rv(Rv::B), Signed));
    t[17] = Some(r("R_RISCV_JAL", Pcrel, rv(Rv::J), Signed));
    t[18] = Some(r("R_RISCV_CALL", Pcrel, rv(Rv::Call), Signed));
    t[19] = Some(r("R_RISCV_CALL_PLT", Pcrel, rv(Rv::Call), Signed));
    t[R_RISCV_GOT_HI20 as usize] = Some(r("R_RISCV_GOT_HI20", GotPcrel, rv(Rv::U), Signed));
    t[R_RISCV_PCREL_HI20 as usize] = Some(r("R_RISCV_PCREL_HI20", Pcrel, rv(Rv::U), Signed));
    t[24] = Some(r("R_RISCV_PCREL_LO12_I", PcrelLo, rv(Rv::I), Any));
    t[25] = Some(r("R_RISCV_PCREL_LO12_S", PcrelLo, rv(Rv::S), Any));
    t[26] = Some(r("R_RISCV_HI20", Abs, rv(Rv::U), Signed));
    t[27] = Some(r("R_RISCV_LO12_I", Abs, rv(Rv::I), Any));
    t[28] = Some(r("R_RISCV_LO12_S", Abs, rv(Rv::S), Any));
    t[33] = Some(r("R_RISCV_ADD8", Add, Data8, Any));
    t[34] = Some(r("R_RISCV_ADD16", Add, Data16, Any));
    t[35] = Some(r("R_RISCV_ADD32", Add, Data32, Any));
    t[36] = Some(r("R_RISCV_ADD64", Add, Data64, Any));
    t[37] = Some(r("R_RISCV_SUB8", Sub, Data8, Any));
    t[38] = Some(r("R_RISCV_SUB16", Sub, Data16, Any));
    t[39] = Some(r("R_RISCV_SUB32", Sub, Data32, Any));
    t[40] = Some(r("R_RISCV_SUB64", Sub, Data64, Any));
    t[43] = Some(r("R_RISCV_ALIGN", Marker, Data32, Any));
    t[44] = Some(r("R_RISCV_RVC_BRANCH", Pcrel, rv(Rv::CB), Signed));
    t[45] = Some(r("R_RISCV_RVC_JUMP", Pcrel, rv(Rv::CJ), Signed));
    t[46] = Some(r("R_RISCV_RVC_LUI", Abs, rv(Rv::CLui), Signed));
    t[51] = Some(r("R_RISCV_RELAX", Marker, Data32, Any));
    t[52] = Some(r("R_RISCV_SUB6", Sub, Data6, Any));
    t[53] = Some(r("R_RISCV_SET6", Set, Data6, Any));
    t[54] = Some(r("R_RISCV_SET8", Set, Data8, Any));
    t[55] = Some(r("R_RISCV_SET16", Set, Data16, Any));
    t[56] = Some(r("R_RISCV_SET32", Set, Data32, Any));
    t[57] = Some(r("R_RISCV_32_PCREL", Pcrel, Data32, Signed));
    t[59] = Some(r("R_RISCV_PLT32", Pcrel, Data32, Signed));
    t[60] = Some(r("R_RISCV_SET_ULEB128", Set, Uleb128, Any));
    t[61] = Some(r("R_RISCV_SUB_ULEB128", Sub, Uleb128, Any));
    t
};

/// A relaxed call: the `auipc` became `jal`, the `jalr` is deleted.
const CALL_AS_JAL: RelocInfo = r("R_RISCV_CALL (relaxed to jal)", Pcrel, rv(Rv::J), Signed);

/// `jal` reaches ±1 MiB.
const JAL_REACH: u64 = 1 << 20;

impl Arch for Riscv64 {
    const MACHINE: Machine = Machine::Riscv64;
    const NARROW_ABSOLUTE_HINT: &'static str = "recompile with -mcmodel=medany: UEFI firmware \
        relocates only 64-bit absolute words in a RISC-V application, not HI20/LO12 pairs";

    fn reloc_info(format: Format, r_type: u32) -> Option<&'static RelocInfo> {
        super::elf_only(&TABLE, format, r_type)
    }

    fn pair_lo12(
        sections: &[InputSection],
        symbols: &impl Labels,
        label: u32,
        index: &mut Option<PairLabels>,
    ) -> std::result::Result<(u32, u32), String> {
        let Some(place) = symbols.label(label) else {
            return Err(format!(
                "`{}` does not label an instruction",
                symbols.name(label)
            ));
        };
        let index = index.get_or_insert_with(|| hi20_labels(sections));
        let found = place
            .section
            .and_then(|s| Some((s, *index.get(&(s, place.offset.into()))?)));
        found.ok_or_else(|| {
            format!(
                "no PCREL_HI20/GOT_HI20 relocation at `{}` ({}+{:#x}) to pair with",
                symbols.name(label),
                place.section_name,
                place.offset
            )
        })
    }

    const EDITS_SECTIONS: bool = true;

    fn shortened(r_type: u32) -> Option<&'static RelocInfo> {
        matches!(r_type, R_RISCV_CALL | R_RISCV_CALL_PLT).then_some(&CALL_AS_JAL)
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
        // R_RISCV_RELAX sits at the same offset, so next to the call in offset order.
        let relaxable = |k: usize| {
            let at = relocs.get(order[k] as usize).offset;
            let same = |&&j: &&u32| relocs.get(j as usize).offset == at;
            let relax = |&j: &u32| relocs.get(j as usize).r_type == R_RISCV_RELAX;
            order[k + 1..].iter().take_while(same).any(relax)
                || order[..k].iter().rev().take_while(same).any(relax)
        };
        let mut deleted = 0u32;
        for (k, &i) in order.iter().enumerate() {
            let i = i as usize;
            let r = relocs.get(i);
            match r.r_type {
                R_RISCV_ALIGN => {
                    let padding = u64::try_from(r.addend).unwrap_or(u64::MAX);
                    let request = AlignRequest {
                        reloc: "R_RISCV_ALIGN",
                        offset: r.offset,
                        align: padding.saturating_add(1).next_power_of_two(),
                        padding,
                        max_skip: 0,
                    };
                    let keep =
                        super::cut_align_padding(request, file, sec, 2, &mut deleted, edits)?;
                    // The kept prefix may now end inside a 4-byte `nop`: write fresh ones.
                    if keep > 0 {
                        edits.patch(r.offset, &nops(keep));
                    }
                }
                R_RISCV_CALL | R_RISCV_CALL_PLT if ctx.enabled && relaxable(k) => {
                    let at = r.offset as usize;
                    let distance = targets.distance(r.offset, r.symbol, r.addend);
                    // `jal` reaches [-1 MiB, 1 MiB - 2]; the bound is on the absolute distance.
                    let Some(distance) = distance else { continue };
                    if distance >= JAL_REACH - 2 || at + 8 > sec.data.len() {
                        edits.pending |= distance >= JAL_REACH - 2;
                        continue;
                    }
                    let rd = riscv::rd(read32(&sec.data[at + 4..]));
                    deleted += edits.shorten_pair(r.offset, riscv::jal(rd), i);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// `len` bytes of NOPs: one `c.nop` when `len` is not a multiple of 4, then `nop`s.
fn nops(len: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len as usize);
    if len % 4 == 2 {
        out.extend_from_slice(&riscv::C_NOP.to_le_bytes());
    }
    while out.len() < len as usize {
        out.extend_from_slice(&riscv::NOP.to_le_bytes());
    }
    out
}

/// Every `auipc` relocation of one object a PCREL_LO12 can take its low bits from, by
/// (section, offset): the psABI pairs by the label of the `auipc`, not by position.
fn hi20_labels(sections: &[InputSection]) -> PairLabels {
    let mut labels = PairLabels::default();
    for (s, sec) in sections.iter().enumerate() {
        for (j, h) in sec.relocs().iter().enumerate() {
            if matches!(h.r_type, R_RISCV_PCREL_HI20 | R_RISCV_GOT_HI20) {
                labels
                    .entry((s as u32, u64::from(h.offset)))
                    .or_insert(j as u32);
            }
        }
    }
    labels
}

#[cfg(test)]
mod tests;
