//! Instruction immediates: pure readers and writers of the bit fields relocations patch, one module
//! per ISA, shared by relocation application, relaxation and thunks. No linker types here.
//!
//! [`Insn`] names a field layout; each ISA module adds its variant and implements the five
//! operations for it. Values are checked by `reloc::apply` against [`Insn::value_bits`] and
//! [`Insn::align`] before [`Insn::write`] is called, so writers only place bits.

pub mod bits;

/// An instruction field layout, tagged by ISA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insn {}

impl Insn {
    pub fn size(self) -> usize {
        match self {}
    }

    pub fn value_bits(self) -> u32 {
        match self {}
    }

    pub fn align(self, bytes: &[u8]) -> u64 {
        let _ = bytes;
        match self {}
    }

    pub fn read(self, bytes: &[u8]) -> i64 {
        let _ = bytes;
        match self {}
    }

    pub fn write(self, bytes: &mut [u8], value: i64) {
        let _ = (bytes, value);
        match self {}
    }
}
