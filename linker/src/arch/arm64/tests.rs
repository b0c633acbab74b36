use super::*;
use crate::arch::table_tests::{check_table, image_operands, Row, Value};
use crate::encoding::bits::read32;
use crate::error::{Error, RelocSite};
use crate::reloc::{apply, evaluate, Operands, Unfit};

/// One row per relocation type. `word` is the instruction (or zeroed data) before, `bytes`
/// what the relocation leaves; `limit` is the largest value that fits and the smallest that
/// does not (None: every value is accepted); `misaligned` a value the field cannot encode.
struct Case {
    format: Format,
    r_type: u32,
    name: &'static str,
    word: u32,
    ops: Operands,
    bytes: Vec<u8>,
    limit: Option<(i64, i64)>,
    misaligned: Option<(i64, i64)>,
}

const P: u64 = 0x1_4000_1004;

fn ops(a: i64) -> Operands {
    image_operands(P, a)
}

/// An absolute symbol (MOVW_UABS_* is only usable against those).
fn abs(s: u64) -> Operands {
    Operands { s, ..ops(0) }
}

fn le(w: u32) -> Vec<u8> {
    w.to_le_bytes().to_vec()
}

const BR26: Option<(i64, i64)> = Some(((1 << 27) - 4, 1 << 27));
const BR19: Option<(i64, i64)> = Some(((1 << 20) - 4, 1 << 20));
const BR14: Option<(i64, i64)> = Some(((1 << 15) - 4, 1 << 15));
const ADR: Option<(i64, i64)> = Some(((1 << 20) - 1, 1 << 20));
const ADRP: Option<(i64, i64)> = Some(((1 << 32) - 4096, 1 << 32));
const S32: Option<(i64, i64)> = Some((i32::MAX as i64, i32::MAX as i64 + 1));
const U32: Option<(i64, i64)> = Some((u32::MAX as i64, u32::MAX as i64 + 1));

// Instructions before relocation, as clang emits them (registers x0/x1/w1/q1).
const ADRP_X0: u32 = 0x9000_0000;
const ADR_X0: u32 = 0x1000_0000;
const ADD_X0: u32 = 0x9100_0000;
const ADD_X0_LSL12: u32 = 0x9140_0000;
const LDRB_W1: u32 = 0x3940_0001;
const LDRH_W1: u32 = 0x7940_0001;
const LDR_W1: u32 = 0xb940_0001;
const LDR_X1: u32 = 0xf940_0001;
const LDR_Q1: u32 = 0x3dc0_0001;
const LDR_X0: u32 = 0xf940_0000;
const BL: u32 = 0x9400_0000;
const B_: u32 = 0x1400_0000;
const B_EQ: u32 = 0x5400_0000;
const TBZ_W0_3: u32 = 0x3618_0000;
const MOVZ_X0: u32 = 0xd280_0000;
const MOVK_X0_16: u32 = 0xf2a0_0000;
const MOVK_X0_32: u32 = 0xf2c0_0000;
const MOVK_X0_48: u32 = 0xf2e0_0000;

// S + A - P = 0x200c for A = 0: 0x803 words.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Format::*;
    let n = Option::None;
    let big = 0x1234_5678_9abc_def0;
    vec![
        Case { format: Coff, r_type: 0x0, name: "IMAGE_REL_ARM64_ABSOLUTE", word: 0, ops: ops(0), bytes: vec![0; 4], limit: n, misaligned: n },
        Case { format: Coff, r_type: 0x1, name: "IMAGE_REL_ARM64_ADDR32", word: 0, ops: ops(-0x1_0000_0000), bytes: vec![0x10, 0x30, 0, 0x40], limit: U32, misaligned: n },
        Case { format: Coff, r_type: 0x2, name: "IMAGE_REL_ARM64_ADDR32NB", word: 0, ops: ops(4), bytes: vec![0x14, 0x30, 0, 0], limit: U32, misaligned: n },
        Case { format: Coff, r_type: 0x3, name: "IMAGE_REL_ARM64_BRANCH26", word: BL, ops: ops(0), bytes: le(0x9400_0803), limit: BR26, misaligned: Some((2, 4)) },
        // A COFF adrp addend is in bytes: Page(S + 0x12345) - Page(P) = 0x14000.
        Case { format: Coff, r_type: 0x4, name: "IMAGE_REL_ARM64_PAGEBASE_REL21", word: ADRP_X0, ops: ops(0x12345), bytes: le(0x9000_00a0), limit: ADRP, misaligned: Some((0x800, 4096)) },
        Case { format: Coff, r_type: 0x5, name: "IMAGE_REL_ARM64_REL21", word: ADR_X0, ops: ops(0), bytes: le(0x1001_0060), limit: ADR, misaligned: n },
        Case { format: Coff, r_type: 0x6, name: "IMAGE_REL_ARM64_PAGEOFFSET_12A", word: ADD_X0, ops: ops(4), bytes: le(0x9100_5000), limit: n, misaligned: n },
        Case { format: Coff, r_type: 0x7, name: "IMAGE_REL_ARM64_PAGEOFFSET_12L", word: LDR_X1, ops: ops(8), bytes: le(0xf940_0c01), limit: n, misaligned: Some((0x14, 8)) },
        Case { format: Coff, r_type: 0x8, name: "IMAGE_REL_ARM64_SECREL", word: 0, ops: ops(2), bytes: vec![0x12, 0, 0, 0], limit: U32, misaligned: n },
        Case { format: Coff, r_type: 0x9, name: "IMAGE_REL_ARM64_SECREL_LOW12A", word: ADD_X0, ops: ops(0x2000), bytes: le(0x9100_4000), limit: n, misaligned: n },
        Case { format: Coff, r_type: 0xa, name: "IMAGE_REL_ARM64_SECREL_HIGH12A", word: ADD_X0_LSL12, ops: ops(0x2000), bytes: le(0x9140_0800), limit: Some(((1 << 24) - 1, 1 << 24)), misaligned: n },
        Case { format: Coff, r_type: 0xb, name: "IMAGE_REL_ARM64_SECREL_LOW12L", word: LDR_W1, ops: ops(0x2000), bytes: le(0xb940_1001), limit: n, misaligned: Some((0x2012, 4)) },
        Case { format: Coff, r_type: 0xd, name: "IMAGE_REL_ARM64_SECTION", word: 0, ops: ops(0), bytes: vec![3, 0], limit: Some((0xffff, 0x1_0000)), misaligned: n },
        Case { format: Coff, r_type: 0xe, name: "IMAGE_REL_ARM64_ADDR64", word: 0, ops: ops(8), bytes: vec![0x18, 0x30, 0, 0x40, 1, 0, 0, 0], limit: n, misaligned: n },
        Case { format: Coff, r_type: 0xf, name: "IMAGE_REL_ARM64_BRANCH19", word: B_EQ, ops: ops(0), bytes: le(0x5401_0060), limit: BR19, misaligned: Some((6, 4)) },
        Case { format: Coff, r_type: 0x10, name: "IMAGE_REL_ARM64_BRANCH14", word: TBZ_W0_3, ops: ops(0), bytes: le(0x3619_0060), limit: BR14, misaligned: Some((1, 4)) },
        Case { format: Coff, r_type: 0x11, name: "IMAGE_REL_ARM64_REL32", word: 0, ops: ops(0), bytes: vec![0x08, 0x20, 0, 0], limit: S32, misaligned: n },
        Case { format: Elf, r_type: 0, name: "R_AARCH64_NONE", word: 0, ops: ops(0), bytes: vec![0; 4], limit: n, misaligned: n },
        Case { format: Elf, r_type: 257, name: "R_AARCH64_ABS64", word: 0, ops: ops(-0x10), bytes: vec![0, 0x30, 0, 0x40, 1, 0, 0, 0], limit: n, misaligned: n },
        Case { format: Elf, r_type: 258, name: "R_AARCH64_ABS32", word: 0, ops: ops(-0x1_0000_0000), bytes: vec![0x10, 0x30, 0, 0x40], limit: U32, misaligned: n },
        Case { format: Elf, r_type: 260, name: "R_AARCH64_PREL64", word: 0, ops: ops(0), bytes: vec![0x0c, 0x20, 0, 0, 0, 0, 0, 0], limit: n, misaligned: n },
        Case { format: Elf, r_type: 261, name: "R_AARCH64_PREL32", word: 0, ops: ops(-0x10), bytes: vec![0xfc, 0x1f, 0, 0], limit: S32, misaligned: n },
        Case { format: Elf, r_type: 263, name: "R_AARCH64_MOVW_UABS_G0", word: MOVZ_X0, ops: abs(0xbeef), bytes: le(0xd297_dde0), limit: Some((0xffff, 0x1_0000)), misaligned: n },
        Case { format: Elf, r_type: 264, name: "R_AARCH64_MOVW_UABS_G0_NC", word: MOVZ_X0, ops: abs(big), bytes: le(0xd29b_de00), limit: n, misaligned: n },
        Case { format: Elf, r_type: 265, name: "R_AARCH64_MOVW_UABS_G1", word: MOVK_X0_16, ops: abs(0x1234_5678), bytes: le(0xf2a2_4680), limit: U32, misaligned: n },
        Case { format: Elf, r_type: 266, name: "R_AARCH64_MOVW_UABS_G1_NC", word: MOVK_X0_16, ops: abs(big), bytes: le(0xf2b3_5780), limit: n, misaligned: n },
        Case { format: Elf, r_type: 267, name: "R_AARCH64_MOVW_UABS_G2", word: MOVK_X0_32, ops: abs(0x5678_9abc_def0), bytes: le(0xf2ca_cf00), limit: Some(((1 << 48) - 1, 1 << 48)), misaligned: n },
        Case { format: Elf, r_type: 268, name: "R_AARCH64_MOVW_UABS_G2_NC", word: MOVK_X0_32, ops: abs(big), bytes: le(0xf2ca_cf00), limit: n, misaligned: n },
        Case { format: Elf, r_type: 269, name: "R_AARCH64_MOVW_UABS_G3", word: MOVK_X0_48, ops: abs(big), bytes: le(0xf2e2_4680), limit: n, misaligned: n },
        Case { format: Elf, r_type: 274, name: "R_AARCH64_ADR_PREL_LO21", word: ADR_X0, ops: ops(0), bytes: le(0x1001_0060), limit: ADR, misaligned: n },
        Case { format: Elf, r_type: 275, name: "R_AARCH64_ADR_PREL_PG_HI21", word: ADRP_X0, ops: ops(0), bytes: le(0xd000_0000), limit: ADRP, misaligned: Some((0x1000 - 4, 4096)) },
        Case { format: Elf, r_type: 277, name: "R_AARCH64_ADD_ABS_LO12_NC", word: ADD_X0, ops: ops(0), bytes: le(0x9100_4000), limit: n, misaligned: n },
        Case { format: Elf, r_type: 278, name: "R_AARCH64_LDST8_ABS_LO12_NC", word: LDRB_W1, ops: ops(3), bytes: le(0x3940_4c01), limit: n, misaligned: n },
        Case { format: Elf, r_type: 279, name: "R_AARCH64_TSTBR14", word: TBZ_W0_3, ops: ops(0), bytes: le(0x3619_0060), limit: BR14, misaligned: Some((2, 4)) },
        Case { format: Elf, r_type: 280, name: "R_AARCH64_CONDBR19", word: B_EQ, ops: ops(0), bytes: le(0x5401_0060), limit: BR19, misaligned: Some((2, 4)) },
        Case { format: Elf, r_type: 282, name: "R_AARCH64_JUMP26", word: B_, ops: ops(0), bytes: le(0x1400_0803), limit: BR26, misaligned: Some((2, 4)) },
        Case { format: Elf, r_type: 283, name: "R_AARCH64_CALL26", word: BL, ops: ops(-0x200c), bytes: le(0x9400_0000), limit: BR26, misaligned: Some((-2, 4)) },
        Case { format: Elf, r_type: 284, name: "R_AARCH64_LDST16_ABS_LO12_NC", word: LDRH_W1, ops: ops(2), bytes: le(0x7940_2401), limit: n, misaligned: Some((0x13, 2)) },
        Case { format: Elf, r_type: 285, name: "R_AARCH64_LDST32_ABS_LO12_NC", word: LDR_W1, ops: ops(4), bytes: le(0xb940_1401), limit: n, misaligned: Some((0x12, 4)) },
        Case { format: Elf, r_type: 286, name: "R_AARCH64_LDST64_ABS_LO12_NC", word: LDR_X1, ops: ops(8), bytes: le(0xf940_0c01), limit: n, misaligned: Some((0x14, 8)) },
        Case { format: Elf, r_type: 299, name: "R_AARCH64_LDST128_ABS_LO12_NC", word: LDR_Q1, ops: ops(0x10), bytes: le(0x3dc0_0801), limit: n, misaligned: Some((0x18, 16)) },
        Case { format: Elf, r_type: 311, name: "R_AARCH64_ADR_GOT_PAGE", word: ADRP_X0, ops: ops(0), bytes: le(0x9000_0020), limit: ADRP, misaligned: Some((0x10, 4096)) },
        Case { format: Elf, r_type: 312, name: "R_AARCH64_LD64_GOT_LO12_NC", word: LDR_X0, ops: ops(0), bytes: le(0xf940_0400), limit: n, misaligned: Some((0xc, 8)) },
    ]
}

fn before(case: &Case) -> Vec<u8> {
    let mut buf = le(case.word);
    buf.resize(case.bytes.len(), 0);
    buf
}

#[test]
fn every_relocation_type_encodes_checks_range_alignment_and_reports_overflow() {
    check_table::<Arm64>(cases().into_iter().map(|case| Row {
        format: case.format,
        r_type: case.r_type,
        name: case.name,
        before: before(&case),
        value: Value::Eval(case.ops),
        expect: case.bytes,
        limit: case.limit,
        misaligned: case.misaligned.map(|(value, align)| (value, align as u64)),
    }));
}

#[test]
fn every_listed_type_has_a_case() {
    let listed: Vec<(Format, u32)> = cases().iter().map(|c| (c.format, c.r_type)).collect();
    for (format, max) in [(Format::Coff, 0x20), (Format::Elf, 0x200)] {
        for t in 0..max {
            if Arm64::reloc_info(format, t).is_some() {
                assert!(listed.contains(&(format, t)), "{format:?} {t} has no case");
            }
        }
    }
}

#[test]
fn table_rejects_unknown_types_by_number() {
    assert!(Arm64::reloc_info(Format::Coff, 0xc).is_none()); // TOKEN
    assert!(Arm64::reloc_info(Format::Coff, 0x12).is_none());
    assert!(Arm64::reloc_info(Format::Elf, 256).is_none());
    assert!(Arm64::reloc_info(Format::Elf, 276).is_none()); // ADR_PREL_PG_HI21_NC
    assert!(Arm64::reloc_info(Format::Elf, 313).is_none());
    assert!(Arm64::reloc_info(Format::Elf, 0xffff_ffff).is_none());
    assert_eq!(Arm64::reloc_name(Format::Elf, 281), "281 (0x119)");
}

#[test]
fn overflow_and_misalignment_errors_name_type_symbol_place_and_value() {
    let pg = Arm64::reloc_info(Format::Elf, 275).unwrap();
    let mut word = ADRP_X0.to_le_bytes();
    let Unfit::Range { value, range } = apply(pg, &mut word, 1 << 32).unwrap_err() else {
        panic!("a page 4 GiB away is out of range");
    };
    let site = |reloc| {
        Box::new(RelocSite {
            reloc,
            symbol: "far".into(),
            file: "far.o".into(),
            section: ".text".into(),
            offset: 8,
        })
    };
    let e = Error::RelocOverflow {
        site: site(pg.name),
        value,
        range,
    };
    assert_eq!(
        e.to_string(),
        "far.o:(.text+0x8): relocation R_AARCH64_ADR_PREL_PG_HI21 out of range: \
         4294967296 (0x100000000) is not in [-2^32, 2^32); references `far`"
    );
    let ld = Arm64::reloc_info(Format::Elf, 286).unwrap();
    let mut word = LDR_X1.to_le_bytes();
    let o = apply(ld, &mut word, 0x14).unwrap_err();
    assert_eq!(
        o,
        Unfit::Align {
            value: 0x14,
            align: 8
        }
    );
    let e = Error::RelocMisaligned {
        site: site(ld.name),
        target: 0x1_4000_3014,
        align: 8,
    };
    assert_eq!(
        e.to_string(),
        "far.o:(.text+0x8): relocation R_AARCH64_LDST64_ABS_LO12_NC misaligned: target \
         0x140003014 is not a multiple of 8 (the instruction encodes it in 8-byte units); \
         references `far`"
    );
}

#[test]
fn thunk_reaches_its_destination_through_x16() {
    let thunk = Arm64::THUNK.unwrap();
    let mut code = thunk.code.to_vec();
    let at = 0x1_4000_1000u64;
    let dest = Operands {
        s: 0x1_4812_3458,
        p: at,
        ..ops(4)
    };
    for &(off, ref info) in thunk.relocs {
        let o = Operands {
            p: at + u64::from(off),
            ..dest
        };
        apply(info, &mut code[off as usize..], evaluate(info, &o)).unwrap();
    }
    let words: Vec<u32> = code.chunks(4).map(read32).collect();
    // adrp x16, 0x148123000; add x16, x16, #0x45c; br x16
    assert_eq!(words, [0xd004_0910, 0x9111_7210, 0xd61f_0200]);
}
