//! RISC-V immediate fields (RV64GC). Base instructions are 32-bit little-endian words; the C
//! extension's are 16-bit. References: RISC-V Unprivileged ISA §2.3 (immediate encoding variants),
//! §16 (compressed formats); RISC-V ELF psABI "Relocations".
use crate::encoding::bits::{extract, patch32, read16, read32, sign_extend, write16};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insn {
    /// U-type (`auipc`, `lui`): the high 20 bits, rounded so the paired low 12 bits add up.
    U,
    /// I-type (`addi`, loads, `jalr`): the low 12 bits, sign-extended by the CPU.
    I,
    /// S-type (stores): the low 12 bits, split.
    S,
    /// B-type (conditional branches): ±4 KiB, even.
    B,
    /// J-type (`jal`): ±1 MiB, even.
    J,
    /// `auipc` + `jalr` (R_RISCV_CALL/CALL_PLT): ±2 GiB.
    Call,
    /// CB-type (`c.beqz`, `c.bnez`): ±256 B, even.
    CB,
    /// CJ-type (`c.j`, `c.jal`): ±2 KiB, even.
    CJ,
    /// CI-type `c.lui`: bits 17..12 of an absolute address.
    CLui,
}

/// The value a `hi20` field holds, so that `hi20 << 12` plus the sign-extended low 12 bits
/// gives back `value`.
pub const fn hi20(value: i64) -> i64 {
    (value + 0x800) >> 12
}

pub const fn lo12(value: i64) -> i64 {
    sign_extend(value as u64, 12)
}

const U_MASK: u32 = 0xffff_f000;
const I_MASK: u32 = 0xfff0_0000;
const S_MASK: u32 = 0xfe00_0f80;
const B_MASK: u32 = 0xfe00_0f80;
const J_MASK: u32 = 0xffff_f000;
const CB_MASK: u16 = 0b0001_1100_0111_1100;
const CJ_MASK: u16 = 0b0001_1111_1111_1100;
const CI_MASK: u16 = 0b0001_0000_0111_1100;

fn u_bits(v: i64) -> u32 {
    (hi20(v) as u32) << 12
}

fn i_bits(v: i64) -> u32 {
    (lo12(v) as u32) << 20
}

fn s_bits(v: i64) -> u32 {
    let v = v as u64;
    extract(v, 11, 5) << 25 | extract(v, 4, 0) << 7
}

fn b_bits(v: i64) -> u32 {
    let v = v as u64;
    extract(v, 12, 12) << 31
        | extract(v, 10, 5) << 25
        | extract(v, 4, 1) << 8
        | extract(v, 11, 11) << 7
}

fn j_bits(v: i64) -> u32 {
    let v = v as u64;
    extract(v, 20, 20) << 31
        | extract(v, 10, 1) << 21
        | extract(v, 11, 11) << 20
        | extract(v, 19, 12) << 12
}

fn cb_bits(v: i64) -> u16 {
    let v = v as u64;
    (extract(v, 8, 8) << 12
        | extract(v, 4, 3) << 10
        | extract(v, 7, 6) << 5
        | extract(v, 2, 1) << 3
        | extract(v, 5, 5) << 2) as u16
}

fn cj_bits(v: i64) -> u16 {
    let v = v as u64;
    (extract(v, 11, 11) << 12
        | extract(v, 4, 4) << 11
        | extract(v, 9, 8) << 9
        | extract(v, 10, 10) << 8
        | extract(v, 6, 6) << 7
        | extract(v, 7, 7) << 6
        | extract(v, 3, 1) << 3
        | extract(v, 5, 5) << 2) as u16
}

fn ci_lui_bits(v: i64) -> u16 {
    let hi = hi20(v) as u64;
    (extract(hi, 5, 5) << 12 | extract(hi, 4, 0) << 2) as u16
}

fn patch16(bytes: &mut [u8], mask: u16, bits: u16) {
    write16(bytes, (read16(bytes) & !mask) | (bits & mask));
}

impl Insn {
    pub fn size(self) -> usize {
        match self {
            Insn::Call => 8,
            Insn::CB | Insn::CJ | Insn::CLui => 2,
            _ => 4,
        }
    }

    pub fn value_bits(self) -> u32 {
        match self {
            Insn::U | Insn::Call => 32,
            Insn::I | Insn::S => 64,
            Insn::B => 13,
            Insn::J => 21,
            Insn::CB => 9,
            Insn::CJ => 12,
            Insn::CLui => 18,
        }
    }

    /// What the range check sees: `hi20` rounding moves the reachable window by 0x800.
    pub fn range_value(self, value: i64) -> i64 {
        match self {
            Insn::U | Insn::Call | Insn::CLui => value.wrapping_add(0x800),
            _ => value,
        }
    }

    pub fn align(self) -> u64 {
        match self {
            Insn::B | Insn::J | Insn::CB | Insn::CJ => 2,
            _ => 1,
        }
    }

    pub fn read(self, bytes: &[u8]) -> i64 {
        let w = read32(bytes) as u64;
        match self {
            Insn::U => sign_extend(w & U_MASK as u64, 32),
            Insn::I => sign_extend(w >> 20, 12),
            Insn::S => sign_extend((extract(w, 31, 25) << 5 | extract(w, 11, 7)) as u64, 12),
            Insn::Call => {
                let hi = sign_extend(w & U_MASK as u64, 32);
                hi + sign_extend(read32(&bytes[4..]) as u64 >> 20, 12)
            }
            // Branch-type fields never carry addends (ELF RELA only).
            _ => 0,
        }
    }

    pub fn write(self, bytes: &mut [u8], v: i64) {
        match self {
            Insn::U => patch32(bytes, U_MASK, u_bits(v)),
            Insn::I => patch32(bytes, I_MASK, i_bits(v)),
            Insn::S => patch32(bytes, S_MASK, s_bits(v)),
            Insn::B => patch32(bytes, B_MASK, b_bits(v)),
            Insn::J => patch32(bytes, J_MASK, j_bits(v)),
            Insn::Call => {
                patch32(bytes, U_MASK, u_bits(v));
                patch32(&mut bytes[4..], I_MASK, i_bits(v));
            }
            Insn::CB => patch16(bytes, CB_MASK, cb_bits(v)),
            Insn::CJ => patch16(bytes, CJ_MASK, cj_bits(v)),
            Insn::CLui => patch16(bytes, CI_MASK, ci_lui_bits(v)),
        }
    }
}

/// Instruction words the relaxation pass writes.
pub const NOP: u32 = 0x0000_0013; // addi x0, x0, 0
pub const C_NOP: u16 = 0x0001; // c.nop
const JAL_OPCODE: u32 = 0x6f;

/// `rd` of an I/U/J-type instruction word.
pub fn rd(word: u32) -> u32 {
    extract(u64::from(word), 11, 7)
}

/// `jal rd, 0`: the target is filled in by the relaxed relocation.
pub fn jal(rd: u32) -> u32 {
    rd << 7 | JAL_OPCODE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(insn: Insn, base: u32, v: i64) -> u32 {
        let mut b = base.to_le_bytes();
        insn.write(&mut b, v);
        u32::from_le_bytes(b)
    }

    #[test]
    fn each_format_places_every_immediate_bit_and_nothing_else() {
        // All-ones immediates must set exactly the format's mask (wild's mask test).
        assert_eq!(word(Insn::U, 0, -0x801), U_MASK);
        assert_eq!(word(Insn::I, 0, -1), I_MASK);
        assert_eq!(word(Insn::S, 0, -1), S_MASK);
        assert_eq!(word(Insn::B, 0, -2), B_MASK);
        assert_eq!(word(Insn::J, 0, -2), J_MASK);
        let mut c = [0u8; 2];
        Insn::CB.write(&mut c, -2);
        assert_eq!(read16(&c), CB_MASK);
        Insn::CJ.write(&mut c, -2);
        assert_eq!(read16(&c), CJ_MASK);
        // And leave the opcode/register bits alone.
        assert_eq!(word(Insn::J, 0x0000_00ef, 0), 0x0000_00ef);
    }

    #[test]
    fn hi20_lo12_round_trip_across_the_sign_boundary() {
        for v in [
            0i64,
            0x7ff,
            0x800,
            0xfff,
            -0x800,
            -0x801,
            0x7fff_f7ff,
            -0x8000_0000,
        ] {
            assert_eq!((hi20(v) << 12) + lo12(v), v, "{v:#x}");
        }
    }
}
