use super::*;
use crate::arch::table_tests::{check_table, image_operands, Row, Value};
use crate::reloc::Operands;

/// Each row: format, type, operands, the bytes written, the largest value that still fits
/// and the smallest that does not (None for full-width fields).
struct Case {
    format: Format,
    r_type: u32,
    name: &'static str,
    ops: Operands,
    bytes: &'static [u8],
    limit: Option<(i64, i64)>,
}

const P: u64 = 0x1_4000_2000;

fn ops(a: i64) -> Operands {
    image_operands(P, a)
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Format::*;
    let s32 = Some((i32::MAX as i64, i32::MAX as i64 + 1));
    let u32_ = Some((u32::MAX as i64, u32::MAX as i64 + 1));
    vec![
        Case { format: Coff, r_type: 0, name: "IMAGE_REL_AMD64_ABSOLUTE", ops: ops(0), bytes: &[0, 0, 0, 0], limit: Option::None },
        Case { format: Coff, r_type: 1, name: "IMAGE_REL_AMD64_ADDR64", ops: ops(8), bytes: &[0x18, 0x30, 0, 0x40, 1, 0, 0, 0], limit: Option::None },
        Case { format: Coff, r_type: 2, name: "IMAGE_REL_AMD64_ADDR32", ops: ops(-0x1_0000_0000), bytes: &[0x10, 0x30, 0, 0x40], limit: u32_ },
        Case { format: Coff, r_type: 3, name: "IMAGE_REL_AMD64_ADDR32NB", ops: ops(4), bytes: &[0x14, 0x30, 0, 0], limit: u32_ },
        Case { format: Coff, r_type: 4, name: "IMAGE_REL_AMD64_REL32", ops: ops(0), bytes: &[0x0c, 0x10, 0, 0], limit: s32 },
        Case { format: Coff, r_type: 5, name: "IMAGE_REL_AMD64_REL32_1", ops: ops(0), bytes: &[0x0b, 0x10, 0, 0], limit: s32 },
        Case { format: Coff, r_type: 6, name: "IMAGE_REL_AMD64_REL32_2", ops: ops(0), bytes: &[0x0a, 0x10, 0, 0], limit: s32 },
        Case { format: Coff, r_type: 7, name: "IMAGE_REL_AMD64_REL32_3", ops: ops(0), bytes: &[0x09, 0x10, 0, 0], limit: s32 },
        Case { format: Coff, r_type: 8, name: "IMAGE_REL_AMD64_REL32_4", ops: ops(0), bytes: &[0x08, 0x10, 0, 0], limit: s32 },
        Case { format: Coff, r_type: 9, name: "IMAGE_REL_AMD64_REL32_5", ops: ops(0), bytes: &[0x07, 0x10, 0, 0], limit: s32 },
        Case { format: Coff, r_type: 10, name: "IMAGE_REL_AMD64_SECTION", ops: ops(0), bytes: &[3, 0], limit: Some((0xffff, 0x1_0000)) },
        Case { format: Coff, r_type: 11, name: "IMAGE_REL_AMD64_SECREL", ops: ops(2), bytes: &[0x12, 0, 0, 0], limit: u32_ },
        Case { format: Elf, r_type: 0, name: "R_X86_64_NONE", ops: ops(0), bytes: &[0, 0, 0, 0], limit: Option::None },
        Case { format: Elf, r_type: 1, name: "R_X86_64_64", ops: ops(-0x10), bytes: &[0, 0x30, 0, 0x40, 1, 0, 0, 0], limit: Option::None },
        Case { format: Elf, r_type: 2, name: "R_X86_64_PC32", ops: ops(-4), bytes: &[0x0c, 0x10, 0, 0], limit: s32 },
        Case { format: Elf, r_type: 4, name: "R_X86_64_PLT32", ops: ops(-4), bytes: &[0x0c, 0x10, 0, 0], limit: s32 },
        Case { format: Elf, r_type: 9, name: "R_X86_64_GOTPCREL", ops: ops(-4), bytes: &[0x04, 0x30, 0, 0], limit: s32 },
        Case { format: Elf, r_type: 10, name: "R_X86_64_32", ops: ops(-0x1_0000_0000), bytes: &[0x10, 0x30, 0, 0x40], limit: u32_ },
        Case { format: Elf, r_type: 11, name: "R_X86_64_32S", ops: ops(-0x1_0000_0000), bytes: &[0x10, 0x30, 0, 0x40], limit: Some((i32::MAX as i64, i32::MAX as i64 + 1)) },
        Case { format: Elf, r_type: 24, name: "R_X86_64_PC64", ops: ops(0), bytes: &[0x10, 0x10, 0, 0, 0, 0, 0, 0], limit: Option::None },
        Case { format: Elf, r_type: 25, name: "R_X86_64_GOTOFF64", ops: ops(0), bytes: &[0x10, 0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], limit: Option::None },
        Case { format: Elf, r_type: 26, name: "R_X86_64_GOTPC32", ops: ops(3), bytes: &[0x03, 0x30, 0, 0], limit: s32 },
        Case { format: Elf, r_type: 27, name: "R_X86_64_GOT64", ops: ops(0), bytes: &[8, 0, 0, 0, 0, 0, 0, 0], limit: Option::None },
        Case { format: Elf, r_type: 28, name: "R_X86_64_GOTPCREL64", ops: ops(0), bytes: &[0x08, 0x30, 0, 0, 0, 0, 0, 0], limit: Option::None },
        Case { format: Elf, r_type: 29, name: "R_X86_64_GOTPC64", ops: ops(0), bytes: &[0x00, 0x30, 0, 0, 0, 0, 0, 0], limit: Option::None },
        Case { format: Elf, r_type: 41, name: "R_X86_64_GOTPCRELX", ops: ops(-4), bytes: &[0x04, 0x30, 0, 0], limit: s32 },
        Case { format: Elf, r_type: 42, name: "R_X86_64_REX_GOTPCRELX", ops: ops(-4), bytes: &[0x04, 0x30, 0, 0], limit: s32 },
    ]
}

#[test]
fn every_relocation_type_encodes_checks_range_and_reports_overflow() {
    check_table::<Amd64>(cases().into_iter().map(|case| Row {
        format: case.format,
        r_type: case.r_type,
        name: case.name,
        before: vec![0; case.bytes.len()],
        value: Value::Eval(case.ops),
        expect: case.bytes.to_vec(),
        limit: case.limit,
        misaligned: Option::None,
    }));
}

#[test]
fn table_rejects_unknown_types_by_number() {
    assert!(Amd64::reloc_info(Format::Coff, 12).is_none()); // SECREL7
    assert!(Amd64::reloc_info(Format::Coff, 0xffff).is_none());
    assert!(Amd64::reloc_info(Format::Elf, 3).is_none()); // R_X86_64_GOT32
    assert!(Amd64::reloc_info(Format::Elf, 43).is_none());
    assert_eq!(Amd64::reloc_name(Format::Elf, 3), "3 (0x3)");
    assert_eq!(Amd64::reloc_name(Format::Coff, 4), "IMAGE_REL_AMD64_REL32");
}

#[test]
fn gotpcrelx_mov_becomes_lea_and_other_forms_stay() {
    let rex = Amd64::reloc_info(Format::Elf, 42).unwrap();
    // 48 8b 05 <rel32>: mov foo@GOTPCREL(%rip), %rax
    let mov = [0x48, 0x8b, 0x05, 0, 0, 0, 0];
    let relaxed = Amd64::relax_got(rex, &mov, 3).expect("mov relaxes");
    assert_eq!((relaxed.at, relaxed.byte), (-2, 0x8d));
    assert_eq!(relaxed.info.formula, Formula::Pcrel);
    // ff 15 <rel32>: call *foo@GOTPCREL(%rip) keeps its GOT slot.
    let call = [0xff, 0x15, 0, 0, 0, 0];
    assert!(Amd64::relax_got(Amd64::reloc_info(Format::Elf, 41).unwrap(), &call, 2).is_none());
    // Plain GOTPCREL never relaxes: the psABI allows it only for the X forms.
    assert!(Amd64::relax_got(Amd64::reloc_info(Format::Elf, 9).unwrap(), &mov, 3).is_none());
}
