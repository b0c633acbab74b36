//! Instruction immediates: pure readers and writers of the bit fields relocations patch, shared by
//! relocation application, relaxation and thunks. No linker types here. Each ISA's encoders live
//! in its arch's home (`arch/<arch>/encoding.rs`); this module keeps the bit helpers they share.
//!
//! [`Insn`] names a field layout; each ISA's encoding module adds its variant and implements the
//! five operations for it. Values are checked by `reloc::apply` against [`Insn::value_bits`] and
//! [`Insn::align`] before [`Insn::write`] is called, so writers only place bits.

pub mod bits;

use crate::arch::arm64::encoding as aarch64;
use crate::arch::loongarch64::encoding as loongarch;
use crate::arch::riscv64::encoding as riscv;

/// An instruction field layout, tagged by ISA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insn {
    Aarch64(aarch64::Insn),
    Loongarch(loongarch::Insn),
    Riscv(riscv::Insn),
}

impl Insn {
    pub fn size(self) -> usize {
        match self {
            Insn::Aarch64(_) => 4,
            Insn::Loongarch(i) => i.size(),
            Insn::Riscv(i) => i.size(),
        }
    }

    pub fn value_bits(self) -> u32 {
        match self {
            Insn::Aarch64(i) => i.value_bits(),
            Insn::Loongarch(i) => i.value_bits(),
            Insn::Riscv(i) => i.value_bits(),
        }
    }

    /// The value the range check sees (RISC-V `hi20` rounding shifts the window by 0x800).
    pub fn range_value(self, value: i64) -> i64 {
        match self {
            Insn::Aarch64(_) => value,
            Insn::Loongarch(i) => i.range_value(value),
            Insn::Riscv(i) => i.range_value(value),
        }
    }

    pub fn align(self, bytes: &[u8]) -> u64 {
        match self {
            Insn::Aarch64(i) => i.align(bytes),
            Insn::Loongarch(i) => i.align(),
            Insn::Riscv(i) => i.align(),
        }
    }

    pub fn read(self, bytes: &[u8]) -> i64 {
        match self {
            Insn::Aarch64(i) => i.read(bytes),
            Insn::Loongarch(i) => i.read(bytes),
            Insn::Riscv(i) => i.read(bytes),
        }
    }

    pub fn write(self, bytes: &mut [u8], value: i64) {
        match self {
            Insn::Aarch64(i) => i.write(bytes, value),
            Insn::Loongarch(i) => i.write(bytes, value),
            Insn::Riscv(i) => i.write(bytes, value),
        }
    }
}
