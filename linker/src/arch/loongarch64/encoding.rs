//! LoongArch immediate fields. Every instruction is one 32-bit little-endian word. References:
//! LoongArch Reference Manual vol. 1 §1.2 (instruction formats), LoongArch ELF psABI
//! "Relocations".
use crate::encoding::bits::{extract, patch32, read32, sign_extend};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insn {
    /// si20 at [24:5] (`lu12i.w`, `pcalau12i`) from bits 31..12 of the value.
    Hi20,
    /// si12/ui12 at [21:10] (`ori`, `addi.d`, `ld.d`) from bits 11..0.
    Lo12,
    /// si20 at [24:5] (`lu32i.d`) from bits 51..32.
    Lo20,
    /// si12 at [21:10] (`lu52i.d`) from bits 63..52.
    Hi12,
    /// offs16 at [25:10], in words (`beq`…): ±128 KiB.
    B16,
    /// offs21 split [25:10] low 16, [4:0] high 5, in words (`beqz`, `bnez`): ±4 MiB.
    B21,
    /// offs26 split [25:10] low 16, [9:0] high 10, in words (`b`, `bl`): ±128 MiB.
    B26,
    /// `pcaddu18i` + `jirl`: ±128 GiB.
    Call36,
    /// si20 at [24:5], in words (`pcaddi`): ±2 MiB.
    Pcrel20S2,
}

const SI20: u32 = 0x01ff_ffe0;
const SI12: u32 = 0x003f_fc00;
const OFFS16: u32 = 0x03ff_fc00;
const OFFS21: u32 = OFFS16 | 0x1f;
const OFFS26: u32 = OFFS16 | 0x3ff;

fn si20(v: u64) -> u32 {
    (v as u32 & 0xf_ffff) << 5
}

fn si12(v: u64) -> u32 {
    (v as u32 & 0xfff) << 10
}

impl Insn {
    pub fn size(self) -> usize {
        match self {
            Insn::Call36 => 8,
            _ => 4,
        }
    }

    pub fn value_bits(self) -> u32 {
        match self {
            Insn::Hi20 => 32,
            Insn::Lo12 | Insn::Lo20 | Insn::Hi12 => 64,
            Insn::B16 => 18,
            Insn::B21 => 23,
            Insn::B26 => 28,
            Insn::Call36 => 38,
            Insn::Pcrel20S2 => 22,
        }
    }

    /// `jirl` sign-extends its offset, so `pcaddu18i` rounds: the reachable window moves by 0x20000.
    pub fn range_value(self, value: i64) -> i64 {
        match self {
            Insn::Call36 => value.wrapping_add(0x20000),
            _ => value,
        }
    }

    pub fn align(self) -> u64 {
        match self {
            Insn::B16 | Insn::B21 | Insn::B26 | Insn::Call36 | Insn::Pcrel20S2 => 4,
            _ => 1,
        }
    }

    /// ELF RELA carries every LoongArch addend; nothing is read back from instructions.
    pub fn read(self, bytes: &[u8]) -> i64 {
        let w = u64::from(read32(bytes));
        match self {
            Insn::Hi20 => sign_extend(u64::from(extract(w, 24, 5)) << 12, 32),
            Insn::Lo12 => sign_extend(u64::from(extract(w, 21, 10)), 12),
            _ => 0,
        }
    }

    pub fn write(self, bytes: &mut [u8], value: i64) {
        let v = value as u64;
        match self {
            Insn::Hi20 => patch32(bytes, SI20, si20(v >> 12)),
            Insn::Lo12 => patch32(bytes, SI12, si12(v)),
            Insn::Lo20 => patch32(bytes, SI20, si20(v >> 32)),
            Insn::Hi12 => patch32(bytes, SI12, si12(v >> 52)),
            Insn::B16 => patch32(bytes, OFFS16, extract(v, 17, 2) << 10),
            Insn::B21 => patch32(bytes, OFFS21, extract(v, 17, 2) << 10 | extract(v, 22, 18)),
            Insn::B26 => patch32(bytes, OFFS26, extract(v, 17, 2) << 10 | extract(v, 27, 18)),
            Insn::Call36 => {
                patch32(bytes, SI20, si20(v.wrapping_add(0x20000) >> 18));
                patch32(&mut bytes[4..], OFFS16, extract(v, 17, 2) << 10);
            }
            Insn::Pcrel20S2 => patch32(bytes, SI20, si20(v >> 2)),
        }
    }
}

/// Instruction words the relaxation pass writes.
pub const NOP: u32 = 0x0340_0000; // andi $zero, $zero, 0
pub const B: u32 = 0x5000_0000;
pub const BL: u32 = 0x5400_0000;
pub const PCADDI: u32 = 0x1800_0000;
/// `$ra` and `$zero`, the only link registers a call can be turned into `bl`/`b` for.
pub const RA: u32 = 1;
pub const ZERO: u32 = 0;

/// `rd` of any format: bits [4:0].
pub fn rd(word: u32) -> u32 {
    word & 0x1f
}

/// `rj`: bits [9:5].
pub fn rj(word: u32) -> u32 {
    (word >> 5) & 0x1f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_ones_fill_exactly_each_field() {
        let cases = [
            (Insn::Hi20, SI20, -1i64),
            (Insn::Lo12, SI12, -1),
            (Insn::B16, OFFS16, -4),
            (Insn::B21, OFFS21, -4),
            (Insn::B26, OFFS26, -4),
            (Insn::Pcrel20S2, SI20, -4),
        ];
        for (insn, mask, v) in cases {
            let mut b = [0u8; 4];
            insn.write(&mut b, v);
            assert_eq!(read32(&b), mask, "{insn:?}");
        }
    }
}
