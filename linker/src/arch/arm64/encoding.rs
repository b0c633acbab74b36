//! AArch64 instruction immediates (Arm ARM, "A64 instruction set encoding"). Every field sits in one
//! little-endian 32-bit word; writers clear the field with a mask shaped like the instruction format
//! and OR in the new bits, leaving opcode and registers alone.
//!
//! Values are byte quantities: a branch's value is the byte offset, a scaled load/store's value is
//! the byte offset before scaling. Only [`Insn::Adrp`] reads differently from how it writes: the
//! value written is a page delta in bytes (`imm21 << 12`), but COFF objects store their addend in
//! the same bits as plain bytes (MSVC's convention, which lld adopted for `PAGEBASE_REL21`), so
//! [`Insn::read`] returns the immediate unshifted.
#![allow(clippy::unusual_byte_groupings)] // masks are grouped by instruction field, not by nibble

use crate::encoding::bits::{extract, patch32, read32, sign_extend};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insn {
    /// ADR: byte offset in immhi:immlo.
    Adr,
    /// ADRP: 4 KiB page delta in immhi:immlo.
    Adrp,
    /// ADD (immediate), imm12 unshifted: the low 12 bits of the value.
    AddLo12,
    /// ADD (immediate), imm12 with LSL #12: bits 12..24 of the value.
    AddHi12,
    /// LDR/STR (unsigned offset) whose access size the relocation type states (log2 bytes).
    LdSt(u8),
    /// LDR/STR (unsigned offset) whose access size is read from the instruction (COFF).
    LdStSized,
    /// B, BL.
    Branch26,
    /// B.cond, CBZ, CBNZ, LDR (literal).
    Branch19,
    /// TBZ, TBNZ.
    Branch14,
    /// MOVZ/MOVK imm16 holding bits `16 * n ..` of the value.
    Movw(u8),
}

const IMMLO_IMMHI: u32 = 0b0_11_00000_1111111111111111111_00000;
const IMM12: u32 = 0b0000000000_111111111111_00000_00000;
const IMM26: u32 = 0b000000_11111111111111111111111111;
const IMM19: u32 = 0b00000000_1111111111111111111_00000;
const IMM14: u32 = 0b0000000000000_11111111111111_00000;
const IMM16: u32 = 0b00000000000_1111111111111111_00000;

/// LDR/STR (unsigned offset) with V=1 and opc=1x: the 128-bit Q-register form, whose size bits
/// read 00.
const LDST_VECTOR_128: u32 = 0b00000_1_00_1_00000000000000000000000;

/// log2 of the access size of a load/store (unsigned offset) instruction.
pub fn ldst_scale(word: u32) -> u32 {
    if word & LDST_VECTOR_128 == LDST_VECTOR_128 {
        4
    } else {
        word >> 30
    }
}

fn get_imm21(word: u32) -> u64 {
    u64::from(extract(word.into(), 23, 5) << 2 | extract(word.into(), 30, 29))
}

fn set_imm21(bytes: &mut [u8], imm: u64) {
    let imm = imm as u32 & 0x1f_ffff;
    patch32(bytes, IMMLO_IMMHI, (imm & 0b11) << 29 | (imm >> 2) << 5);
}

impl Insn {
    pub fn value_bits(self) -> u32 {
        match self {
            Insn::Adr => 21,
            Insn::Adrp => 33,
            Insn::AddLo12 | Insn::LdSt(_) | Insn::LdStSized => 12,
            Insn::AddHi12 => 24,
            Insn::Branch26 => 28,
            Insn::Branch19 => 21,
            Insn::Branch14 => 16,
            Insn::Movw(n) => 16 * (u32::from(n) + 1),
        }
    }

    pub fn align(self, bytes: &[u8]) -> u64 {
        match self {
            Insn::Adrp => 4096,
            Insn::LdSt(scale) => 1 << scale,
            Insn::LdStSized => 1 << ldst_scale(read32(bytes)),
            Insn::Branch26 | Insn::Branch19 | Insn::Branch14 => 4,
            Insn::Adr | Insn::AddLo12 | Insn::AddHi12 | Insn::Movw(_) => 1,
        }
    }

    fn scale(self, word: u32) -> u32 {
        match self {
            Insn::LdSt(scale) => scale.into(),
            _ => ldst_scale(word),
        }
    }

    pub fn read(self, bytes: &[u8]) -> i64 {
        let word = read32(bytes);
        let w = u64::from(word);
        match self {
            Insn::Adr | Insn::Adrp => sign_extend(get_imm21(word), 21),
            Insn::AddLo12 => extract(w, 21, 10).into(),
            Insn::AddHi12 => i64::from(extract(w, 21, 10)) << 12,
            Insn::LdSt(_) | Insn::LdStSized => i64::from(extract(w, 21, 10)) << self.scale(word),
            Insn::Branch26 => sign_extend(w & 0x3ff_ffff, 26) << 2,
            Insn::Branch19 => sign_extend(extract(w, 23, 5).into(), 19) << 2,
            Insn::Branch14 => sign_extend(extract(w, 18, 5).into(), 14) << 2,
            Insn::Movw(n) => i64::from(extract(w, 20, 5)) << (16 * n),
        }
    }

    pub fn write(self, bytes: &mut [u8], value: i64) {
        let v = value as u64;
        match self {
            Insn::Adr => set_imm21(bytes, v),
            Insn::Adrp => set_imm21(bytes, v >> 12),
            Insn::AddLo12 => patch32(bytes, IMM12, extract(v, 11, 0) << 10),
            Insn::AddHi12 => patch32(bytes, IMM12, extract(v, 23, 12) << 10),
            Insn::LdSt(_) | Insn::LdStSized => {
                let scale = self.scale(read32(bytes));
                patch32(bytes, IMM12, (extract(v, 11, 0) >> scale) << 10)
            }
            Insn::Branch26 => patch32(bytes, IMM26, extract(v, 27, 2)),
            Insn::Branch19 => patch32(bytes, IMM19, extract(v, 20, 2) << 5),
            Insn::Branch14 => patch32(bytes, IMM14, extract(v, 15, 2) << 5),
            Insn::Movw(n) => {
                let lo = 16 * u32::from(n);
                patch32(bytes, IMM16, extract(v, lo + 15, lo) << 5)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::bits::write32;

    fn roundtrip(insn: Insn, word: u32, value: i64) -> u32 {
        let mut b = [0u8; 4];
        write32(&mut b, word);
        insn.write(&mut b, value);
        read32(&b)
    }

    /// Writing all ones into each field must set exactly the field's bits (wild's mask test).
    #[test]
    fn masks_cover_exactly_the_immediate_fields() {
        let cases = [
            (Insn::Adr, IMMLO_IMMHI, (1 << 21) - 1),
            (Insn::Adrp, IMMLO_IMMHI, ((1 << 21) - 1) << 12),
            (Insn::AddLo12, IMM12, 0xfff),
            (Insn::AddHi12, IMM12, 0xfff_000),
            (Insn::LdSt(0), IMM12, 0xfff),
            (Insn::Branch26, IMM26, (1 << 28) - 4),
            (Insn::Branch19, IMM19, (1 << 21) - 4),
            (Insn::Branch14, IMM14, (1 << 16) - 4),
            (Insn::Movw(2), IMM16, 0xffff << 32),
        ];
        for (insn, mask, value) in cases {
            assert_eq!(roundtrip(insn, 0, value), mask, "{insn:?}");
            assert_eq!(
                roundtrip(insn, !0, 0),
                !mask,
                "{insn:?} keeps the other bits"
            );
        }
    }

    #[test]
    fn reads_are_the_inverse_of_writes_except_adrp() {
        for (insn, word, value) in [
            (Insn::Adr, 0x1000_0000, -0x10_0000),
            (Insn::AddHi12, 0x9140_0000, 0x7ff_000),
            (Insn::LdStSized, 0xf940_0000, 0xff8),
            (Insn::LdStSized, 0x3dc0_0000, 0xff0),
            (Insn::Branch26, 0x9400_0000, -(1 << 27)),
            (Insn::Branch19, 0x5400_0000, (1 << 20) - 4),
            (Insn::Branch14, 0x3600_0000, -(1 << 15)),
            (Insn::Movw(3), 0xd2e0_0000, 0x1234 << 48),
        ] {
            let mut b = [0u8; 4];
            write32(&mut b, roundtrip(insn, word, value));
            assert_eq!(insn.read(&b), value, "{insn:?}");
        }
        // `adrp x0, sym+0x12345` as llvm-mc writes it for COFF: the byte addend sits in imm21.
        assert_eq!(Insn::Adrp.read(&0xb009_1a20u32.to_le_bytes()), 0x12345);
    }

    #[test]
    fn load_store_scale_comes_from_size_bits_and_the_q_form() {
        assert_eq!(ldst_scale(0x3940_0c01), 0); // ldrb w1, [x0, #3]
        assert_eq!(ldst_scale(0x7940_0000), 1); // ldrh w0, [x0]
        assert_eq!(ldst_scale(0xb940_0000), 2); // ldr w0, [x0]
        assert_eq!(ldst_scale(0xf940_0c01), 3); // ldr x1, [x0, #0x18]
        assert_eq!(ldst_scale(0x3dc0_0801), 4); // ldr q1, [x0, #0x20]
        assert_eq!(ldst_scale(0x3d40_0000), 0); // ldr b0, [x0]: V=1 but 8-bit
        assert_eq!(ldst_scale(0xfd40_0000), 3); // ldr d0, [x0]
        assert_eq!(Insn::LdStSized.read(&0x3dc0_0801u32.to_le_bytes()), 0x20);
    }
}
