//! What a relocation computes ([`Formula`]), where the result goes ([`Field`]) and which values fit
//! ([`Range`]). Arch files describe each relocation type as a const [`RelocInfo`]; this module owns
//! the single verify-then-write path, so a value is range-checked in 64 bits before it is narrowed.
pub use crate::encoding::Insn;

/// The psABI names: S symbol address, A addend, P address of the field, G address of the symbol's
/// GOT slot, GOT address of the GOT, B image base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Formula {
    /// Nothing to do (R_X86_64_NONE, IMAGE_REL_AMD64_ABSOLUTE).
    None,
    /// S + A: an absolute address, which needs a base relocation.
    Abs,
    /// S + A - P + bias (bias: COFF REL32_N measure from the end of the instruction).
    Pcrel,
    /// S + A - B: an RVA.
    ImageRel,
    /// S + A - start of the output section holding S.
    SecRel,
    /// 1-based index of the output section holding S.
    SectionIndex,
    /// G + A - P.
    GotPcrel,
    /// S + A - GOT.
    GotRel,
    /// GOT + A - P.
    GotBasePcrel,
    /// G - GOT + A: the slot's offset inside the GOT.
    GotSlot,
    /// Page(S + A) - Page(P), 4 KiB pages (AArch64 ADRP).
    PagePcrel,
    /// (S + A) mod 4 KiB: the same at every load address, since images load page-aligned.
    PageOffset,
    /// Page(G + A) - Page(P).
    GotPagePcrel,
    /// (G + A) mod 4 KiB.
    GotPageOffset,
    /// V + S + A, V being the field's current value (RISC-V ADD*: label differences).
    Add,
    /// V - S - A (RISC-V SUB*).
    Sub,
    /// S + A stored as a plain number, not an address the loader adjusts (RISC-V SET*, always
    /// paired with a SUB).
    Set,
    /// The low 12 bits of the PC-relative value computed by the HI20 relocation at S (RISC-V
    /// PCREL_LO12_I/S: S labels the `auipc`).
    PcrelLo,
    /// G + A: the address of the symbol's GOT slot (LoongArch GOT_PC_LO12 takes its low bits).
    Got,
    /// B + A: an address relative to the image base (R_LARCH_RELATIVE), relocated by the loader.
    Relative,
    /// LoongArch `pcalau12i` page arithmetic toward S + A (or the GOT slot, G + A), measured from
    /// the `pcalau12i` that is `back` bytes before this instruction (extreme model: 8 for
    /// `lu32i.d`, 12 for `lu52i.d`). See `page_delta`.
    PageDelta { got: bool, back: u8 },
    /// Not a relocation of bytes but a hint or a request to the relaxation pass
    /// (R_RISCV_RELAX, R_RISCV_ALIGN).
    Marker,
}

impl Formula {
    /// The formula reads a GOT slot of the target, so the scan must allocate one.
    pub fn needs_got_slot(self) -> bool {
        matches!(
            self,
            Formula::GotPcrel
                | Formula::GotSlot
                | Formula::GotPagePcrel
                | Formula::GotPageOffset
                | Formula::Got
                | Formula::PageDelta { got: true, .. }
        )
    }

    pub fn uses_got(self) -> bool {
        self.needs_got_slot() || matches!(self, Formula::GotRel | Formula::GotBasePcrel)
    }

    /// A relocation of this formula writes its field: `None` and markers touch no byte, so the
    /// scan keeps no fixup for them and validation checks no reach.
    pub fn touches(self) -> bool {
        !matches!(self, Formula::None | Formula::Marker)
    }
}

/// Where the computed value is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The low 6 bits of a byte (RISC-V SET6/SUB6, DWARF call frame opcodes).
    Data6,
    Data8,
    Data16,
    Data32,
    Data64,
    /// An instruction immediate; its arch's `encoding` module knows the bit layout.
    Insn(Insn),
    /// An unsigned LEB128 number, rewritten in the length it already has.
    Uleb128,
}

impl Field {
    /// Bytes patched.
    pub fn size(self) -> usize {
        match self {
            Field::Data6 | Field::Data8 | Field::Uleb128 => 1,
            Field::Data16 => 2,
            Field::Data32 => 4,
            Field::Data64 => 8,
            Field::Insn(i) => i.size(),
        }
    }

    /// Width of the value the field can hold (before any scaling an instruction applies).
    pub fn bits(self) -> u32 {
        match self {
            Field::Insn(i) => i.value_bits(),
            Field::Data6 => 6,
            // Written in whatever length the assembler chose: wraps like the data fields.
            Field::Uleb128 => 64,
            _ => self.size() as u32 * 8,
        }
    }

    /// The value the range check sees.
    pub fn range_value(self, value: i64) -> i64 {
        match self {
            Field::Insn(i) => i.range_value(value),
            _ => value,
        }
    }

    /// The value must be a multiple of this power of two (branch targets, scaled load/store
    /// offsets).
    pub fn align(self, bytes: &[u8]) -> u64 {
        match self {
            Field::Insn(i) => i.align(bytes),
            _ => 1,
        }
    }

    /// The addend stored in the field (COFF keeps addends in place): sign-extended, as lld does.
    pub fn read(self, bytes: &[u8]) -> i64 {
        match self {
            Field::Data6 => (bytes[0] & 0x3f) as i64,
            Field::Data8 => bytes[0] as i64,
            Field::Data16 => i16::from_le_bytes(bytes[..2].try_into().unwrap()) as i64,
            Field::Data32 => i32::from_le_bytes(bytes[..4].try_into().unwrap()) as i64,
            Field::Data64 => i64::from_le_bytes(bytes[..8].try_into().unwrap()),
            Field::Insn(i) => i.read(bytes),
            Field::Uleb128 => {
                let mut v = 0u64;
                for (i, b) in bytes.iter().take(10).enumerate() {
                    v |= u64::from(b & 0x7f) << (7 * i);
                    if b & 0x80 == 0 {
                        break;
                    }
                }
                v as i64
            }
        }
    }

    /// Stores `value`; the caller has range-checked it.
    pub fn write(self, bytes: &mut [u8], value: i64) {
        match self {
            Field::Data6 => bytes[0] = (bytes[0] & 0xc0) | (value as u8 & 0x3f),
            Field::Data8 => bytes[0] = value as u8,
            Field::Data16 => bytes[..2].copy_from_slice(&(value as u16).to_le_bytes()),
            Field::Data32 => bytes[..4].copy_from_slice(&(value as u32).to_le_bytes()),
            Field::Data64 => bytes[..8].copy_from_slice(&value.to_le_bytes()),
            Field::Insn(i) => i.write(bytes, value),
            Field::Uleb128 => {
                let mut v = value as u64;
                let len = bytes
                    .iter()
                    .take(10)
                    .position(|b| b & 0x80 == 0)
                    .map_or(1, |p| p + 1);
                for (i, b) in bytes[..len].iter_mut().enumerate() {
                    let more = if i + 1 < len { 0x80 } else { 0 };
                    *b = (v & 0x7f) as u8 | more;
                    v >>= 7;
                }
            }
        }
    }
}

/// Which values a field accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    Signed,
    Unsigned,
    /// Full-width fields: every value fits.
    Any,
}

impl Range {
    pub fn contains(self, bits: u32, value: i64) -> bool {
        if bits >= 64 {
            return true;
        }
        match self {
            Range::Signed => {
                let half = 1i64 << (bits - 1);
                (-half..half).contains(&value)
            }
            Range::Unsigned => (0..1i64 << bits).contains(&value),
            Range::Any => true,
        }
    }

    pub fn describe(self, bits: u32) -> String {
        match self {
            Range::Signed => format!("[-2^{}, 2^{})", bits - 1, bits - 1),
            Range::Unsigned => format!("[0, 2^{bits})"),
            Range::Any => "any value".to_string(),
        }
    }
}

/// One relocation type, described as data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelocInfo {
    pub name: &'static str,
    pub formula: Formula,
    pub field: Field,
    pub range: Range,
    /// Added to P-relative results (COFF REL32_N: -(4 + N)).
    pub bias: i64,
}

impl RelocInfo {
    pub const fn new(name: &'static str, formula: Formula, field: Field, range: Range) -> Self {
        RelocInfo {
            name,
            formula,
            field,
            range,
            bias: 0,
        }
    }

    pub const fn with_bias(mut self, bias: i64) -> Self {
        self.bias = bias;
        self
    }

    /// An absolute address that the loader must adjust when the image moves.
    pub fn is_absolute(&self) -> bool {
        matches!(self.formula, Formula::Abs | Formula::Relative)
    }
}

/// The constructors every arch file builds its const relocation table with, so all tables read
/// the same: `r(name, formula, field, range)`, with the instruction field of each ISA.
pub mod table {
    use super::{Field, Formula, Range, RelocInfo};
    use crate::arch::arm64::encoding as aarch64;
    use crate::arch::loongarch64::encoding as loongarch;
    use crate::arch::riscv64::encoding as riscv;
    use crate::encoding::Insn;

    pub const fn r(name: &'static str, formula: Formula, field: Field, range: Range) -> RelocInfo {
        RelocInfo::new(name, formula, field, range)
    }

    pub const fn a64(i: aarch64::Insn) -> Field {
        Field::Insn(Insn::Aarch64(i))
    }

    pub const fn rv(i: riscv::Insn) -> Field {
        Field::Insn(Insn::Riscv(i))
    }

    pub const fn la(i: loongarch::Insn) -> Field {
        Field::Insn(Insn::Loongarch(i))
    }

    /// LoongArch `pcalau12i` page arithmetic, see [`Formula::PageDelta`].
    pub const fn page(got: bool, back: u8) -> Formula {
        Formula::PageDelta { got, back }
    }
}

/// Why a value cannot be stored: the caller adds file, section, symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfit {
    /// Outside the field's range, described as `[-2^27, 2^27)`.
    Range { value: i64, range: String },
    /// Not a multiple of the unit the field counts in (branch words, scaled load/store offsets).
    Align { value: i64, align: u64 },
}

/// Verifies `value` against the type's range and alignment, then stores it. Nothing is written
/// when the value does not fit.
pub fn apply(info: &RelocInfo, bytes: &mut [u8], value: i64) -> Result<(), Unfit> {
    let bits = info.field.bits();
    if !info.range.contains(bits, info.field.range_value(value)) {
        return Err(Unfit::Range {
            value,
            range: info.range.describe(bits),
        });
    }
    // A mask, not `rem_euclid`: the compiler cannot know the alignment is a power of two, and
    // would divide (a 64-bit `idiv`, tens of cycles) for every relocation written.
    let align = info.field.align(bytes);
    debug_assert!(align.is_power_of_two(), "{}: align {align}", info.name);
    if value & (align as i64 - 1) != 0 {
        return Err(Unfit::Align { value, align });
    }
    info.field.write(bytes, value);
    Ok(())
}

/// The inputs of a [`Formula`], all as virtual addresses except `section_index`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Operands {
    pub s: u64,
    pub a: i64,
    pub p: u64,
    pub g: u64,
    pub got: u64,
    pub image_base: u64,
    /// Start of the output section holding S.
    pub section_start: u64,
    pub section_index: u16,
    /// The field's current value (for [`Formula::Add`]/[`Formula::Sub`]).
    pub v: i64,
}

impl Operands {
    /// The address the relocation points at, S + A or (through the GOT) G + A: what a misaligned
    /// value is misaligned because of.
    pub fn target(&self, formula: Formula) -> u64 {
        let base = if formula.needs_got_slot() {
            self.g
        } else {
            self.s
        };
        base.wrapping_add(self.a as u64)
    }
}

const PAGE_MASK: u64 = 0xfff;

fn page(address: u64) -> u64 {
    address & !PAGE_MASK
}

/// Computes the value of a relocation in 64-bit arithmetic (wrapping, as the psABIs define it);
/// the range check happens in [`apply`].
pub fn evaluate(info: &RelocInfo, o: &Operands) -> i64 {
    let s_a = o.s.wrapping_add(o.a as u64);
    let v = match info.formula {
        Formula::None => 0,
        Formula::Abs => s_a,
        Formula::Pcrel => s_a.wrapping_sub(o.p).wrapping_add(info.bias as u64),
        Formula::ImageRel => s_a.wrapping_sub(o.image_base),
        Formula::SecRel => s_a.wrapping_sub(o.section_start),
        Formula::SectionIndex => o.section_index as u64,
        Formula::GotPcrel => o.g.wrapping_add(o.a as u64).wrapping_sub(o.p),
        Formula::GotRel => s_a.wrapping_sub(o.got),
        Formula::GotBasePcrel => o.got.wrapping_add(o.a as u64).wrapping_sub(o.p),
        Formula::GotSlot => o.g.wrapping_sub(o.got).wrapping_add(o.a as u64),
        Formula::PagePcrel => page(s_a).wrapping_sub(page(o.p)),
        Formula::PageOffset => s_a & PAGE_MASK,
        Formula::GotPagePcrel => page(o.g.wrapping_add(o.a as u64)).wrapping_sub(page(o.p)),
        Formula::GotPageOffset => o.g.wrapping_add(o.a as u64) & PAGE_MASK,
        Formula::Add => (o.v as u64).wrapping_add(s_a),
        Formula::Sub => (o.v as u64).wrapping_sub(s_a),
        Formula::Set => s_a,
        // The caller computes the paired HI20's value and passes it as S (see `write`).
        Formula::PcrelLo => o.s,
        Formula::Got => o.g.wrapping_add(o.a as u64),
        Formula::Relative => o.image_base.wrapping_add(o.a as u64),
        Formula::PageDelta { got, back } => {
            let dest = if got {
                o.g.wrapping_add(o.a as u64)
            } else {
                s_a
            };
            page_delta(dest, o.p.wrapping_sub(u64::from(back)), back != 0)
        }
        Formula::Marker => 0,
    };
    v as i64
}

/// The value a `pcalau12i`-based sequence at `pc` needs to reach `dest` (LoongArch psABI, as lld
/// computes it). `pcalau12i` yields `pc`'s page plus `hi20 << 12`; the low 12 bits are added
/// *sign-extended*, so when bit 11 of `dest` is set the page must be one higher. When the upper
/// 32 bits come from `lu32i.d`/`lu52i.d` (`wide`), they are added to a sign-extended lower half
/// and need the matching borrow/carry.
pub fn page_delta(dest: u64, pc: u64, wide: bool) -> u64 {
    const PAGE: u64 = !0xfff;
    if !wide {
        return (dest.wrapping_add(0x800) & PAGE).wrapping_sub(pc & PAGE);
    }
    let mut result = (dest & PAGE).wrapping_sub(pc & PAGE);
    if dest & 0x800 != 0 {
        result = result.wrapping_add(0x1000).wrapping_sub(0x1_0000_0000);
    }
    if result & 0x8000_0000 != 0 {
        result = result.wrapping_add(0x1_0000_0000);
    }
    result
}

/// The range-limit half of every arch's table test: `max` fits the field of `info` (written into
/// `buf`), `over` is refused with the field's range spelled out, and the refused write leaves `buf`
/// as it was.
#[cfg(test)]
pub(crate) fn assert_limit(name: &str, info: &RelocInfo, buf: &mut [u8], max: i64, over: i64) {
    apply(info, buf, max).unwrap_or_else(|e| panic!("{name}: {max:#x} must fit: {e:?}"));
    let untouched = buf.to_vec();
    let err = apply(info, buf, over).expect_err(name);
    assert_eq!(buf, &untouched[..], "{name}: overflow must not write");
    let bits = info.field.bits();
    let range = match info.range {
        Range::Signed => format!("[-2^{}, 2^{})", bits - 1, bits - 1),
        _ => format!("[0, 2^{bits})"),
    };
    assert_eq!(err, Unfit::Range { value: over, range }, "{name}");
}
