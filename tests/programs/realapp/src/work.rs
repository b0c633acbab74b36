//! The computation: no UEFI here, so a host build can compute the expected checksum.
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

pub const RECORDS: u32 = 200;
/// FNV-1a of the JSON text of all records; pinned so a mislinked program that still round-trips
/// (a wrong constant table, a misplaced `.rdata`) fails.
pub const EXPECTED_FNV: u64 = 0x8824_f6a6_7ecd_a284;

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
enum Kind {
    Plain,
    Tagged { tag: String },
    Pair(u16, i64),
}

#[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
struct Record {
    id: u32,
    name: String,
    score: f64,
    kind: Kind,
    values: Vec<i32>,
    attrs: BTreeMap<String, u64>,
    parent: Option<u32>,
}

fn record(i: u32) -> Record {
    let kind = match i % 3 {
        0 => Kind::Plain,
        1 => Kind::Tagged {
            tag: format!("t\"{}\\", i * 7),
        },
        _ => Kind::Pair(i as u16 ^ 0x5a5a, -(i64::from(i) << 33)),
    };
    let mut attrs = BTreeMap::new();
    for k in 0..(i % 5) {
        attrs.insert(format!("k{k}"), u64::from(i) * 1_000_003 + u64::from(k));
    }
    Record {
        id: i,
        name: format!("record-{i:04}-\u{e9}\u{1f980}"),
        score: f64::from(i) * 1.25 - 17.5,
        kind,
        values: (0..(i % 7) as i32).map(|v| v * v - i as i32).collect(),
        attrs,
        parent: (i % 4 != 0).then(|| i / 2),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub struct Report {
    pub line: String,
    pub ok: bool,
}

pub fn run() -> Report {
    let records: Vec<Record> = (0..RECORDS).map(record).collect();
    let text = serde_json::to_string(&records).unwrap_or_default();
    let parsed: Vec<Record> = serde_json::from_str(&text).unwrap_or_default();
    let round_trip = parsed == records;
    // A second, dynamically typed parse walks serde_json's Value code as well.
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let ids: u64 = value
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["id"].as_u64()).sum())
        .unwrap_or(0);
    let fnv = fnv1a(text.as_bytes());
    let expected_ids = u64::from(RECORDS) * u64::from(RECORDS - 1) / 2;
    let ok = round_trip && ids == expected_ids && fnv == EXPECTED_FNV;
    Report {
        line: format!("n={RECORDS} bytes={} ids={ids} fnv={fnv:016x}", text.len()),
        ok,
    }
}
