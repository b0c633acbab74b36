//! Every LoongArch relocation type against instruction words produced by `llvm-mc
//! -triple=loongarch64 -show-encoding` (the expected bytes are the assembler's), the psABI page
//! arithmetic on edge values, `la.abs` → MARK_LA, and ALIGN/relaxation on hand-built sections.
use super::*;
use crate::arch::table_tests::{check_table, Row, Value};
use crate::input::{Relocs, SectionClass};
use crate::layout::relax::relax_section_one;
use crate::relax::Deletion;
use crate::reloc::{evaluate, page_delta, Operands};
use crate::resolve::{OneObject, Resolved};

const P: u64 = 0x1_2000_1000;

/// One row per type. The value is the formula's result, given directly so each row checks the
/// field; `formulas_compute_what_the_psabi_says` checks the formulas.
#[rustfmt::skip]
fn cases() -> Vec<Row> {
    let c = |r_type, name, base: &[u8], value, expect: &[u8], limit| Row {
        format: Format::Elf, r_type, name, before: base.to_vec(), value: Value::Direct(value),
        expect: expect.to_vec(), limit, misaligned: None,
    };
    let lu12i = &[0x04, 0x00, 0x00, 0x14];
    let ori = &[0x84, 0x00, 0x80, 0x03];
    let lu32i = &[0x04, 0x00, 0x00, 0x16];
    let lu52i = &[0x84, 0x00, 0x00, 0x03];
    let pcalau12i = &[0x04, 0x00, 0x00, 0x1a];
    let addi = &[0x84, 0x00, 0xc0, 0x02];
    let ld = &[0x84, 0x00, 0xc0, 0x28];
    let s32 = Some((i32::MAX as i64, 1i64 << 31));
    vec![
        c(0, "R_LARCH_NONE", &[1, 2, 3, 4], 0, &[1, 2, 3, 4], None),
        c(1, "R_LARCH_32", &[0; 4], 0x1234, &[0x34, 0x12, 0, 0], Some((u32::MAX as i64, 1 << 32))),
        c(2, "R_LARCH_64", &[0; 8], 0x1234, &[0x34, 0x12, 0, 0, 0, 0, 0, 0], None),
        c(3, "R_LARCH_RELATIVE", &[0; 8], 0x1234, &[0x34, 0x12, 0, 0, 0, 0, 0, 0], None),
        c(20, "R_LARCH_MARK_LA", &[1, 2, 3, 4], 0, &[1, 2, 3, 4], None),
        c(21, "R_LARCH_MARK_PCREL", &[1, 2, 3, 4], 0, &[1, 2, 3, 4], None),
        c(47, "R_LARCH_ADD8", &[0x31], 0x31, &[0x31], None),
        c(48, "R_LARCH_ADD16", &[0; 2], 0x1234, &[0x34, 0x12], None),
        c(50, "R_LARCH_ADD32", &[0; 4], 0x1234, &[0x34, 0x12, 0, 0], None),
        c(51, "R_LARCH_ADD64", &[0; 8], 0x1234, &[0x34, 0x12, 0, 0, 0, 0, 0, 0], None),
        c(52, "R_LARCH_SUB8", &[0], -1, &[0xff], None),
        c(53, "R_LARCH_SUB16", &[0; 2], -1, &[0xff, 0xff], None),
        c(55, "R_LARCH_SUB32", &[0; 4], -1, &[0xff; 4], None),
        c(56, "R_LARCH_SUB64", &[0; 8], -1, &[0xff; 8], None),
        c(64, "R_LARCH_B16", &[0x85, 0x00, 0x00, 0x58], -1364, &[0x85, 0xac, 0xfa, 0x5b], Some(((1 << 17) - 4, 1 << 17))),
        c(65, "R_LARCH_B21", &[0x80, 0x00, 0x00, 0x40], 74564, &[0x80, 0x44, 0x23, 0x41], Some(((1 << 22) - 4, 1 << 22))),
        c(66, "R_LARCH_B26", &[0x00, 0x00, 0x00, 0x54], 0x123_4564, &[0x48, 0x64, 0x45, 0x57], Some(((1 << 27) - 4, 1 << 27))),
        c(67, "R_LARCH_ABS_HI20", lu12i, 0x1234_5abc, &[0xa4, 0x68, 0x24, 0x14], None),
        c(68, "R_LARCH_ABS_LO12", ori, 0x1234_5abc, &[0x84, 0xf0, 0xaa, 0x03], None),
        c(69, "R_LARCH_ABS64_LO20", lu32i, 0x5_4321_0000_0000, &[0x24, 0x64, 0xa8, 0x16], None),
        c(70, "R_LARCH_ABS64_HI12", lu52i, 0x7ff0_0000_0000_0000, &[0x84, 0xfc, 0x1f, 0x03], None),
        c(71, "R_LARCH_PCALA_HI20", pcalau12i, 0x1234_5000, &[0xa4, 0x68, 0x24, 0x1a], s32),
        c(72, "R_LARCH_PCALA_LO12", addi, 0xabc, &[0x84, 0xf0, 0xea, 0x02], None),
        c(73, "R_LARCH_PCALA64_LO20", lu32i, 0x5_4321_0000_0000, &[0x24, 0x64, 0xa8, 0x16], None),
        c(74, "R_LARCH_PCALA64_HI12", lu52i, 0x7ff0_0000_0000_0000, &[0x84, 0xfc, 0x1f, 0x03], None),
        c(75, "R_LARCH_GOT_PC_HI20", pcalau12i, 0x1234_5000, &[0xa4, 0x68, 0x24, 0x1a], s32),
        c(76, "R_LARCH_GOT_PC_LO12", ld, 0xabc, &[0x84, 0xf0, 0xea, 0x28], None),
        c(77, "R_LARCH_GOT64_PC_LO20", lu32i, 0x5_4321_0000_0000, &[0x24, 0x64, 0xa8, 0x16], None),
        c(78, "R_LARCH_GOT64_PC_HI12", lu52i, 0x7ff0_0000_0000_0000, &[0x84, 0xfc, 0x1f, 0x03], None),
        c(99, "R_LARCH_32_PCREL", &[0; 4], -16, &[0xf0, 0xff, 0xff, 0xff], s32),
        c(100, "R_LARCH_RELAX", &[1, 2, 3, 4], 0, &[1, 2, 3, 4], None),
        c(102, "R_LARCH_ALIGN", &[1, 2, 3, 4], 0, &[1, 2, 3, 4], None),
        c(103, "R_LARCH_PCREL20_S2", &[0x04, 0x00, 0x00, 0x18], 0x48d0, &[0x84, 0x46, 0x02, 0x18], Some(((1 << 21) - 4, 1 << 21))),
        c(105, "R_LARCH_ADD6", &[0xc5], 0x3a, &[0xfa], None),
        c(106, "R_LARCH_SUB6", &[0xc5], 0x3f, &[0xff], None),
        c(107, "R_LARCH_ADD_ULEB128", &[0x80, 0x80, 0x00], 0x1234, &[0xb4, 0xa4, 0x00], None),
        c(108, "R_LARCH_SUB_ULEB128", &[0x80, 0x80, 0x00], 0x1200, &[0x80, 0xa4, 0x00], None),
        c(109, "R_LARCH_64_PCREL", &[0; 8], -16, &[0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], None),
        c(110, "R_LARCH_CALL36", &[0x01, 0x00, 0x00, 0x1e, 0x21, 0x00, 0x00, 0x4c], 0x1233_edcc, &[0xa1, 0x91, 0x00, 0x1e, 0x21, 0xcc, 0xed, 0x4f], Some(((1 << 37) - 0x20004, (1 << 37) - 0x20000))),
    ]
}

#[test]
fn every_relocation_type_encodes_like_the_assembler_and_checks_its_range() {
    check_table::<Loongarch64>(cases());
}

/// The formulas behind the rows: ADD/SUB read the field, PageDelta is the psABI's.
#[test]
fn formulas_compute_what_the_psabi_says() {
    let eval = |r_type, s: u64, a: i64, v: i64| {
        let info = Loongarch64::reloc_info(Format::Elf, r_type).unwrap();
        evaluate(
            info,
            &Operands {
                s,
                a,
                p: P,
                g: P + 0x2_0000,
                v,
                image_base: 0x1_2000_0000,
                ..Operands::default()
            },
        )
    };
    assert_eq!(eval(47, 0x21, 0, 0x10), 0x31, "ADD8: V + S + A");
    assert_eq!(eval(52, 0x21, 0, 0x20), -1, "SUB8: V - S - A");
    assert_eq!(eval(3, 0, 0x40, 0), 0x1_2000_0040, "RELATIVE: B + A");
    assert_eq!(
        eval(72, P + 0x1abc, 0, 0),
        (P + 0x1abc) as i64,
        "PCALA_LO12 keeps S + A, the field takes bits 11..0"
    );
    assert_eq!(
        eval(76, 0, 8, 0),
        (P + 0x2_0008) as i64,
        "GOT_PC_LO12: G + A"
    );
    assert_eq!(eval(110, P + 0x100, 0, 0), 0x100, "CALL36: S + A - P");
    // pcalau12i must round up when bit 11 of the target is set (addi.d sign-extends).
    assert_eq!(eval(71, P + 0x7ff, 0, 0), 0);
    assert_eq!(eval(71, P + 0x800, 0, 0), 0x1000);
    assert_eq!(
        eval(75, 0, 0, 0),
        0x2_0000,
        "GOT_PC_HI20 pages toward the slot"
    );
}

#[test]
fn wide_page_delta_matches_lld_on_edge_values() {
    // (dest, pc of pcalau12i, expected) for the lu32i.d/lu52i.d halves.
    let cases: [(u64, u64, u64); 4] = [
        // bit 31 of the low half set: pcalau12i sign-extends it, so the upper half carries one
        (0x1234_5678_9abc_d000, 0x1000, 0x1234_5679_9abc_c000),
        // bit 11 set: page + 0x1000 and a borrow from the upper half
        (0x0000_0000_0000_0800, 0x0, 0xffff_ffff_0000_1000),
        // bit 31 set in the result: carry into the upper half
        (0x8000_0000, 0x0, 0x1_8000_0000),
        (0x8000_0800, 0x0, 0x8000_1000),
    ];
    for (dest, pc, expected) in cases {
        assert_eq!(
            page_delta(dest, pc, true),
            expected,
            "dest {dest:#x} pc {pc:#x}"
        );
    }
    // The narrow form and the wide form agree on bits 31..12 (what pcalau12i takes).
    for dest in [0x7ff, 0x800, 0x1234_5800, 0xffff_f800] {
        let (n, w) = (
            page_delta(dest, 0x1000, false),
            page_delta(dest, 0x1000, true),
        );
        assert_eq!((n >> 12) & 0xf_ffff, (w >> 12) & 0xf_ffff, "{dest:#x}");
    }
}

fn reloc(offset: u32, r_type: u32, symbol: u32, addend: i64) -> Reloc {
    Reloc {
        offset,
        r_type,
        symbol,
        addend,
    }
}

#[test]
fn la_abs_gets_one_mark_la_on_its_first_instruction() {
    let seq = [
        reloc(0x20, R_LARCH_ABS_HI20, 3, 0),
        reloc(0x24, R_LARCH_ABS_LO12, 3, 0),
        reloc(0x28, R_LARCH_ABS64_LO20, 3, 0),
        reloc(0x2c, R_LARCH_ABS64_HI12, 3, 0),
    ];
    assert_eq!(
        Loongarch64::absolute_insn(Relocs::Decoded(&seq), 0),
        AbsoluteInsn::BaseReloc(BaseRelocType::MarkLa)
    );
    for i in 1..4 {
        assert_eq!(
            Loongarch64::absolute_insn(Relocs::Decoded(&seq), i),
            AbsoluteInsn::Covered
        );
    }
    assert_eq!(BaseRelocType::MarkLa.code(), 8);
    // Without its lu52i.d the sequence cannot be patched by firmware.
    assert_eq!(
        Loongarch64::absolute_insn(Relocs::Decoded(&seq[..3]), 0),
        AbsoluteInsn::Unsupported
    );
    let mut split = seq;
    split[2].offset = 0x30;
    assert_eq!(
        Loongarch64::absolute_insn(Relocs::Decoded(&split), 1),
        AbsoluteInsn::Unsupported
    );
}

#[rustfmt::skip]
const CODE: &[u8] = &[
    0x04, 0x00, 0x00, 0x1a, // 0: pcalau12i $a0, %pc_hi20(value)   PCALA_HI20 + RELAX
    0x84, 0x00, 0xc0, 0x02, // 4: addi.d $a0, $a0, %pc_lo12(value) PCALA_LO12 + RELAX
    0x01, 0x00, 0x00, 0x1e, // 8: pcaddu18i $ra, %call36(helper)  CALL36 + RELAX
    0x21, 0x00, 0x00, 0x4c, // 12: jirl $ra, $ra, 0
    0x00, 0x00, 0x40, 0x03, // 16: nop   ALIGN 12 (16-byte alignment)
    0x00, 0x00, 0x40, 0x03, // 20: nop
    0x00, 0x00, 0x40, 0x03, // 24: nop
    0x20, 0x00, 0x00, 0x4c, // 28: helper: ret
];

fn resolved(section_align: u32) -> Resolved<'static> {
    let relocs = vec![
        reloc(0, R_LARCH_PCALA_HI20, 1, 0),
        reloc(0, R_LARCH_RELAX, 0, 0),
        reloc(4, R_LARCH_PCALA_LO12, 1, 0),
        reloc(4, R_LARCH_RELAX, 0, 0),
        reloc(8, R_LARCH_CALL36, 2, 0),
        reloc(8, R_LARCH_RELAX, 0, 0),
        reloc(16, R_LARCH_ALIGN, 0, 12),
    ];
    OneObject::new(Machine::Loongarch64)
        .section(".text", SectionClass::Text, section_align, CODE, relocs)
        .section(
            ".data",
            SectionClass::Data,
            8,
            &[1, 0, 0, 0, 0, 0, 0, 0],
            vec![],
        )
        .symbol(b"value", 2, 0)
        .symbol(b"helper", 1, 28)
        .build()
}

fn relax(res: &Resolved, enabled: bool, span: u64) -> Result<SectionEdits> {
    relax_section_one::<Loongarch64>(res, enabled, span)
}

#[test]
fn pcala_becomes_pcaddi_call36_becomes_bl_and_align_recuts() {
    let res = resolved(16);
    let e = relax(&res, true, 0x1000).unwrap();
    // Deleted: the addi.d (4), the jirl (12); the padding now starts at output offset 8, so 8
    // of its 12 bytes stay and the last 4 go.
    assert_eq!(
        e.view().deletions().collect::<Vec<_>>(),
        [
            Deletion { offset: 4, len: 4 },
            Deletion { offset: 12, len: 4 },
            Deletion { offset: 24, len: 4 }
        ]
    );
    assert_eq!(e.view().rewrites, [0, 4]);
    let forms = [R_LARCH_PCALA_HI20, R_LARCH_CALL36].map(Loongarch64::shortened);
    assert_eq!(forms, [Some(&PCALA_AS_PCADDI), Some(&CALL36_AS_B26)]);
    let mut out = vec![0u8; CODE.len() - e.view().total() as usize];
    e.view().copy(CODE, &mut out);
    // pcaddi $a0, 0; bl 0; nop; nop; ret — `helper` lands on the 16-byte boundary.
    assert_eq!(
        out,
        [0x04, 0, 0, 0x18, 0, 0, 0, 0x54, 0, 0, 0x40, 0x03, 0, 0, 0x40, 0x03, 0x20, 0, 0, 0x4c]
    );
    assert_eq!(28 - e.view().deleted_before(28), 16);
}

#[test]
fn no_relax_keeps_sequences_but_still_honours_align() {
    let res = resolved(16);
    let e = relax(&res, false, 0x1000).unwrap();
    assert!(e.view().rewrites.is_empty());
    // 16 is already aligned: all 12 bytes of padding go.
    assert_eq!(
        e.view().deletions().collect::<Vec<_>>(),
        [Deletion {
            offset: 16,
            len: 12
        }]
    );
}

#[test]
fn out_of_reach_targets_stay_long() {
    let res = resolved(16);
    let e = relax(&res, true, B26_REACH).unwrap();
    assert!(e.view().rewrites.is_empty());
}

#[test]
fn align_with_a_symbol_honours_the_max_skip() {
    // Alignment 2^4 with at most 4 bytes skipped: at offset 4 it would need 12, so all 12 go.
    let r = reloc(4, R_LARCH_ALIGN, 5, 4 | (4 << 8));
    assert_eq!(align_request(&r), (16, 12, 4));
    assert_eq!(align_request(&reloc(4, R_LARCH_ALIGN, 0, 12)), (16, 12, 0));
}

#[test]
fn align_beyond_the_section_alignment_is_an_error() {
    let res = resolved(8);
    let err = relax(&res, false, 0x1000).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.o:(.text+0x10): R_LARCH_ALIGN: 12 bytes of padding for 16-byte alignment cannot be \
         satisfied in a section of 32 bytes aligned to 8"
    );
}
