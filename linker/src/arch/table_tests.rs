//! The relocation-table check every arch's tests run over their rows, one row per relocation type:
//! the type is in the table under its psABI name, encodes the expected bytes, accepts the ends of
//! its range and refuses one step past them with the range spelled out, refuses a misaligned value,
//! and writes nothing when it refuses.
use super::Arch;
use crate::input::Format;
use crate::reloc::{
    apply, assert_limit, evaluate, Field, Formula, Operands, Range, RelocInfo, Unfit,
};

/// What a row stores: a value given directly (the row checks the field alone) or the operands the
/// formula computes it from.
pub(crate) enum Value {
    Direct(i64),
    Eval(Operands),
}

pub(crate) struct Row {
    pub format: Format,
    pub r_type: u32,
    pub name: &'static str,
    /// The section bytes at the relocation before it is applied.
    pub before: Vec<u8>,
    pub value: Value,
    pub expect: Vec<u8>,
    /// The largest value that fits and the smallest that does not (None: no range check).
    pub limit: Option<(i64, i64)>,
    /// A value the field cannot encode and the alignment it is refused for, beyond the one this
    /// harness derives from the field's alignment.
    pub misaligned: Option<(i64, u64)>,
}

/// Operands in a PE image at 0x1_4000_0000 for a relocation at `p` with addend `a`: the target
/// S = 0x1_4000_3010 in output section 3 (at 0x1_4000_3000), its GOT slot 8 bytes into a GOT at
/// 0x1_4000_5000.
pub(crate) fn image_operands(p: u64, a: i64) -> Operands {
    Operands {
        s: 0x1_4000_3010,
        a,
        p,
        g: 0x1_4000_5008,
        got: 0x1_4000_5000,
        image_base: 0x1_4000_0000,
        section_start: 0x1_4000_3000,
        section_index: 3,
        v: 0,
    }
}

pub(crate) fn check_table<A: Arch>(rows: impl IntoIterator<Item = Row>) {
    for row in rows {
        let info = A::reloc_info(row.format, row.r_type)
            .unwrap_or_else(|| panic!("{} missing from the table", row.name));
        assert_eq!(info.name, row.name);
        let touches = info.formula.touches();
        // A ULEB128 field is as long as the value the object holds there.
        if touches && info.field != Field::Uleb128 {
            assert_eq!(
                info.field.size(),
                row.expect.len(),
                "{} field size",
                row.name
            );
        }
        check_encoding(&row, info, touches);
        if touches {
            check_range(&row, info);
            check_alignment(&row, info);
        }
    }
}

fn check_encoding(row: &Row, info: &RelocInfo, touches: bool) {
    let mut buf = row.before.clone();
    if touches {
        let value = match row.value {
            Value::Direct(value) => value,
            Value::Eval(ops) => {
                // ADD/SUB fold the field's current value in, as the writer does.
                let v = match info.formula {
                    Formula::Add | Formula::Sub => info.field.read(&buf),
                    _ => ops.v,
                };
                evaluate(info, &Operands { v, ..ops })
            }
        };
        apply(info, &mut buf, value).unwrap_or_else(|e| panic!("{}: {value:#x}: {e:?}", row.name));
    }
    assert_eq!(buf, row.expect, "{} encodes", row.name);
}

fn check_range(row: &Row, info: &RelocInfo) {
    let mut buf = row.before.clone();
    let align = info.field.align(&row.before) as i64;
    match row.limit {
        Some((max, over)) => {
            assert_limit(row.name, info, &mut buf, max, over);
            let bits = info.field.bits();
            // The low end in value terms: the range check sees `range_value`, which shifts
            // rounded fields (RISC-V hi20) by a constant.
            let low = match info.range {
                Range::Signed => -(1i64 << (bits - 1)) - info.field.range_value(0),
                _ => 0,
            };
            assert!(
                apply(info, &mut buf, low).is_ok(),
                "{}: {low:#x} fits",
                row.name
            );
            let below = low - align;
            assert!(
                apply(info, &mut buf, below).is_err(),
                "{}: {below:#x} is below",
                row.name
            );
        }
        None => {
            for v in [i64::MIN, -align, i64::MAX - (align - 1)] {
                assert!(apply(info, &mut buf, v).is_ok(), "{}: {v:#x}", row.name);
            }
        }
    }
}

fn check_alignment(row: &Row, info: &RelocInfo) {
    let align = info.field.align(&row.before);
    let derived = (align > 1).then(|| ((align + align / 2) as i64, align));
    for (value, align) in row.misaligned.into_iter().chain(derived) {
        let mut buf = row.before.clone();
        let err = apply(info, &mut buf, value).expect_err(row.name);
        assert_eq!(err, Unfit::Align { value, align }, "{}", row.name);
        assert_eq!(buf, row.before, "{}: misaligned must not write", row.name);
    }
}
