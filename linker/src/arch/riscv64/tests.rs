//! Every RISC-V relocation type against instruction words produced by `llvm-mc -triple=riscv64
//! -show-encoding` (the expected bytes are the assembler's, not ours), plus relaxation and ALIGN
//! on hand-built sections.
use super::*;
use crate::arch::table_tests::{check_table, Row, Value};
use crate::input::{Reloc, SectionClass};
use crate::layout::relax::{relax_section_one, Symbols};
use crate::relax::Deletion;
use crate::reloc::Operands;
use crate::resolve::{OneObject, Resolved};

const P: u64 = 0x1000;

/// One row per type: `s` is S - P for PC-relative types, S otherwise; `limit` the largest value
/// that fits and the smallest that does not. GOT_HI20's slot is 0x12345abc past P.
#[rustfmt::skip]
fn cases() -> Vec<Row> {
    let c = |r_type, name, base: &[u8], s: i64, a, expect: &[u8], limit| {
        let pc_relative = Riscv64::reloc_info(Format::Elf, r_type)
            .is_some_and(|info| matches!(info.formula, Formula::Pcrel | Formula::GotPcrel));
        let s = if pc_relative { P as i64 + s } else { s };
        let ops = Operands { s: s as u64, a, p: P, g: P + 0x1234_5abc, ..Operands::default() };
        Row {
            format: Format::Elf, r_type, name, before: base.to_vec(), value: Value::Eval(ops),
            expect: expect.to_vec(), limit, misaligned: None,
        }
    };
    let s32 = Some(((1i64 << 31) - 0x801, (1i64 << 31) - 0x800));
    vec![
        c(0, "R_RISCV_NONE", &[1, 2, 3, 4], 0, 0, &[1, 2, 3, 4], None),
        c(1, "R_RISCV_32", &[0; 4], 0x1234, 0, &[0x34, 0x12, 0, 0], Some((u32::MAX as i64, 1 << 32))),
        c(2, "R_RISCV_64", &[0; 8], 0x1234, 8, &[0x3c, 0x12, 0, 0, 0, 0, 0, 0], None),
        c(16, "R_RISCV_BRANCH", &[0x63, 0x00, 0xb5, 0x00], -1366, 0, &[0xe3, 0x05, 0xb5, 0xaa], Some((4094, 4096))),
        c(17, "R_RISCV_JAL", &[0xef, 0, 0, 0], 74566, 0, &[0xef, 0x20, 0x61, 0x34], Some(((1 << 20) - 2, 1 << 20))),
        c(18, "R_RISCV_CALL", &[0x97, 0, 0, 0, 0xe7, 0x80, 0, 0], 0x1234_5abc, 0, &[0x97, 0x60, 0x34, 0x12, 0xe7, 0x80, 0xc0, 0xab], s32),
        c(19, "R_RISCV_CALL_PLT", &[0x97, 0, 0, 0, 0xe7, 0x80, 0, 0], 0x1234_5000, 0xabc, &[0x97, 0x60, 0x34, 0x12, 0xe7, 0x80, 0xc0, 0xab], s32),
        c(20, "R_RISCV_GOT_HI20", &[0x17, 0x05, 0, 0], 0, 0, &[0x17, 0x65, 0x34, 0x12], s32),
        c(23, "R_RISCV_PCREL_HI20", &[0x17, 0x05, 0, 0], 0x1234_5abc, 0, &[0x17, 0x65, 0x34, 0x12], s32),
        c(24, "R_RISCV_PCREL_LO12_I", &[0x13, 0x05, 0x05, 0x00], 0x1234_5abc, 0, &[0x13, 0x05, 0xc5, 0xab], None),
        c(25, "R_RISCV_PCREL_LO12_S", &[0x23, 0x30, 0xb5, 0x00], 0x1234_5abc, 0, &[0x23, 0x3e, 0xb5, 0xaa], None),
        c(26, "R_RISCV_HI20", &[0x37, 0x05, 0, 0], 0x1234_5abc, 0, &[0x37, 0x65, 0x34, 0x12], s32),
        c(27, "R_RISCV_LO12_I", &[0x13, 0x05, 0x05, 0x00], 0x1234_5abc, 0, &[0x13, 0x05, 0xc5, 0xab], None),
        c(28, "R_RISCV_LO12_S", &[0x23, 0x30, 0xb5, 0x00], 0x1234_5abc, 0, &[0x23, 0x3e, 0xb5, 0xaa], None),
        c(33, "R_RISCV_ADD8", &[0x10], 0x20, 1, &[0x31], None),
        c(34, "R_RISCV_ADD16", &[0x10, 0x01], 0x20, 1, &[0x31, 0x01], None),
        c(35, "R_RISCV_ADD32", &[0x10, 0, 0, 1], 0x20, 1, &[0x31, 0, 0, 1], None),
        c(36, "R_RISCV_ADD64", &[0x10, 0, 0, 0, 0, 0, 0, 1], 0x20, 1, &[0x31, 0, 0, 0, 0, 0, 0, 1], None),
        c(37, "R_RISCV_SUB8", &[0x31], 0x20, 1, &[0x10], None),
        c(38, "R_RISCV_SUB16", &[0x10, 0], 0x20, 1, &[0xef, 0xff], None),
        c(39, "R_RISCV_SUB32", &[0x31, 0, 0, 0], 0x20, 1, &[0x10, 0, 0, 0], None),
        c(40, "R_RISCV_SUB64", &[0x31, 0, 0, 0, 0, 0, 0, 0], 0x20, 1, &[0x10, 0, 0, 0, 0, 0, 0, 0], None),
        c(43, "R_RISCV_ALIGN", &[0x13, 0, 0, 0], 0, 6, &[0x13, 0, 0, 0], None),
        c(44, "R_RISCV_RVC_BRANCH", &[0x01, 0xc1], 170, 0, &[0x4d, 0xc5], Some((254, 256))),
        c(45, "R_RISCV_RVC_JUMP", &[0x01, 0xa0], 1366, 0, &[0x99, 0xab], Some((2046, 2048))),
        c(46, "R_RISCV_RVC_LUI", &[0x01, 0x65], 0x1f000, 0, &[0x7d, 0x65], Some(((1 << 17) - 0x801, (1 << 17) - 0x800))),
        c(51, "R_RISCV_RELAX", &[0x97, 0, 0, 0], 0, 0, &[0x97, 0, 0, 0], None),
        c(52, "R_RISCV_SUB6", &[0xc5], 3, 0, &[0xc2], None),
        c(53, "R_RISCV_SET6", &[0xc5], 0x3f, 0, &[0xff], None),
        c(54, "R_RISCV_SET8", &[0x00], 0x7f, 1, &[0x80], None),
        c(55, "R_RISCV_SET16", &[0, 0], 0x1234, 0, &[0x34, 0x12], None),
        c(56, "R_RISCV_SET32", &[0; 4], 0x1234, 0, &[0x34, 0x12, 0, 0], None),
        c(57, "R_RISCV_32_PCREL", &[0; 4], -16, 0, &[0xf0, 0xff, 0xff, 0xff], Some((i32::MAX as i64, 1 << 31))),
        c(59, "R_RISCV_PLT32", &[0; 4], 16, 0, &[0x10, 0, 0, 0], Some((i32::MAX as i64, 1 << 31))),
        c(60, "R_RISCV_SET_ULEB128", &[0x80, 0x80, 0x00], 0x1234, 0, &[0xb4, 0xa4, 0x00], None),
        c(61, "R_RISCV_SUB_ULEB128", &[0xb4, 0xa4, 0x00], 0x34, 0, &[0x80, 0xa4, 0x00], None),
    ]
}

#[test]
fn every_relocation_type_encodes_like_the_assembler_and_checks_its_range() {
    check_table::<Riscv64>(cases());
}

#[test]
fn absolute_hi20_lo12_and_unknown_types_are_rejected_with_a_hint() {
    for t in [26, 27, 28, 46] {
        let info = Riscv64::reloc_info(Format::Elf, t).unwrap();
        assert!(
            info.is_absolute() && matches!(info.field, Field::Insn(_)),
            "{}",
            info.name
        );
    }
    assert!(Riscv64::NARROW_ABSOLUTE_HINT.contains("-mcmodel=medany"));
    // TLS and dynamic types have no meaning in a UEFI image.
    for t in [3, 5, 6, 21, 29, 62, 1000] {
        assert!(Riscv64::reloc_info(Format::Elf, t).is_none(), "{t}");
    }
    assert!(Riscv64::reloc_info(Format::Coff, 2).is_none());
}

const CALL_RELAX_ALIGN: &[u8] = &[
    0x97, 0x00, 0x00, 0x00, // 0: auipc ra, 0      R_RISCV_CALL_PLT func, R_RISCV_RELAX
    0xe7, 0x80, 0x00, 0x00, // 4: jalr ra, 0(ra)
    0x13, 0x00, 0x00, 0x00, // 8: nop              R_RISCV_ALIGN 6 (8-byte alignment)
    0x01, 0x00, //            12: c.nop
    0x67, 0x80, 0x00, 0x00, // 14: func: ret
];

fn resolved(section_align: u32) -> Resolved<'static> {
    let reloc = |offset, r_type, symbol, addend| Reloc {
        offset,
        r_type,
        symbol,
        addend,
    };
    let relocs = vec![
        reloc(0, R_RISCV_CALL_PLT, 1, 0),
        reloc(0, R_RISCV_RELAX, 0, 0),
        reloc(8, R_RISCV_ALIGN, 0, 6),
    ];
    OneObject::new(Machine::Riscv64)
        .section(
            ".text",
            SectionClass::Text,
            section_align,
            CALL_RELAX_ALIGN,
            relocs,
        )
        .symbol(b"func", 1, 14)
        .build()
}

fn relax(res: &Resolved, enabled: bool) -> Result<SectionEdits> {
    relax_section_one::<Riscv64>(res, enabled, u64::MAX)
}

#[test]
fn call_becomes_jal_and_align_padding_shrinks_to_fit() {
    let res = resolved(8);
    let e = relax(&res, true).unwrap();
    assert_eq!(
        e.view().deletions().collect::<Vec<_>>(),
        [
            Deletion { offset: 4, len: 4 },
            Deletion { offset: 12, len: 2 }
        ]
    );
    assert_eq!(e.view().rewrites, [0]);
    assert_eq!(Riscv64::shortened(R_RISCV_CALL_PLT), Some(&CALL_AS_JAL));
    let mut out = vec![0u8; CALL_RELAX_ALIGN.len() - e.view().total() as usize];
    e.view().copy(CALL_RELAX_ALIGN, &mut out);
    // jal ra, 0 (target filled by the rewritten relocation); nop; ret — `ret` 8-byte aligned.
    assert_eq!(out, [0xef, 0, 0, 0, 0x13, 0, 0, 0, 0x67, 0x80, 0, 0]);
    assert_eq!(
        14 - e.view().deleted_before(14),
        8,
        "func moves to the aligned offset"
    );
}

#[test]
fn no_relax_still_honours_align() {
    let res = resolved(8);
    let e = relax(&res, false).unwrap();
    assert!(e.view().rewrites.is_empty());
    assert_eq!(
        e.view().deletions().collect::<Vec<_>>(),
        [Deletion { offset: 8, len: 6 }]
    );
    assert_eq!(14 - e.view().deleted_before(14), 8);
}

/// `call far` (auipc + jalr, RELAX) in section 1, `pad` bytes of code in section 2, `far` in
/// section 3.
fn call_over(pad: &'static [u8]) -> Resolved<'static> {
    const CALL: &[u8] = &[0x97, 0x00, 0x00, 0x00, 0xe7, 0x80, 0x00, 0x00];
    let relocs = vec![
        Reloc {
            offset: 0,
            r_type: R_RISCV_CALL_PLT,
            symbol: 1,
            addend: 0,
        },
        Reloc {
            offset: 0,
            r_type: R_RISCV_RELAX,
            symbol: 0,
            addend: 0,
        },
    ];
    OneObject::new(Machine::Riscv64)
        .section(".text.a", SectionClass::Text, 4, CALL, relocs)
        .section(".text.pad", SectionClass::Text, 4, pad, vec![])
        .section(
            ".text.far",
            SectionClass::Text,
            4,
            &[0x67, 0x80, 0, 0],
            vec![],
        )
        .symbol(b"far", 3, 0)
        .build()
}

#[test]
fn each_call_relaxes_by_its_own_distance() {
    static PAD: [u8; 1 << 20] = [0; 1 << 20];
    let near = call_over(&PAD[..(1 << 20) - 64]);
    assert_eq!(relax(&near, true).unwrap().view().rewrites, [0]);
    let far = call_over(&PAD);
    assert!(
        relax(&far, true).unwrap().view().rewrites.is_empty(),
        "a target 1 MiB away is beyond jal"
    );
}

#[test]
fn align_beyond_the_section_alignment_is_an_error() {
    let res = resolved(4);
    let err = relax(&res, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.o:(.text+0x8): R_RISCV_ALIGN: 6 bytes of padding for 8-byte alignment cannot be satisfied \
         in a section of 18 bytes aligned to 4"
    );
}

#[test]
fn pcrel_lo12_pairs_with_the_hi20_at_its_label() {
    // 0: auipc a0, %pcrel_hi(target)   (.Lhi)
    // 4: addi a0, a0, %pcrel_lo(.Lhi)
    // 8: sw a1, %pcrel_lo(.Lnot_auipc)(a0)   (.Lnot_auipc labels the sw itself)
    const CODE: &[u8] = &[0x17, 0x05, 0, 0, 0x13, 0x05, 0x05, 0, 0x23, 0x20, 0xb5, 0];
    let reloc = |offset, r_type, symbol| Reloc {
        offset,
        r_type,
        symbol,
        addend: 0,
    };
    let res = OneObject::new(Machine::Riscv64)
        .section(
            ".text",
            SectionClass::Text,
            4,
            CODE,
            vec![
                reloc(0, R_RISCV_PCREL_HI20, 3),
                reloc(4, 24, 1),
                reloc(8, 25, 2),
            ],
        )
        .section(".data", SectionClass::Data, 8, &[0; 8], vec![])
        .symbol(b".Lhi", 1, 0)
        .symbol(b".Lnot_auipc", 1, 8)
        .symbol(b"target", 2, 0)
        .build();
    let (sections, symbols) = (&res.objects[0].sections, Symbols { res: &res, file: 0 });
    let mut labels = None;
    assert_eq!(
        Riscv64::pair_lo12(sections, &symbols, 1, &mut labels),
        Ok((1, 0))
    );
    assert_eq!(
        Riscv64::pair_lo12(sections, &symbols, 2, &mut labels),
        Err("no PCREL_HI20/GOT_HI20 relocation at `.Lnot_auipc` (.text+0x8) to pair with".into())
    );
    assert_eq!(
        Riscv64::pair_lo12(sections, &symbols, 3, &mut labels),
        Err("no PCREL_HI20/GOT_HI20 relocation at `target` (.data+0x0) to pair with".into()),
        "a label in another section names no auipc"
    );
}
