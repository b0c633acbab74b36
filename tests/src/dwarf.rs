//! Checks of the DWARF the linker copies into images, through an independent reader
//! (llvm-dwarfdump-19): the sections verify, and a function's DW_AT_low_pc/high_pc equal its
//! address and size in pectl's `--map`, so relocation and relaxation kept DWARF consistent.
use std::path::Path;
use std::process::Command;

use crate::cc::run_checked;
use crate::env::need_tool;

pub const LLVM_DWARFDUMP: &str = "llvm-dwarfdump-19";

/// (address, size) of `function` in a `--map` file.
pub fn map_symbol(map: &str, function: &str) -> Option<(u64, u64)> {
    map.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() == 3 && f[2] == function).then(|| {
            (
                u64::from_str_radix(f[0], 16).unwrap(),
                u64::from_str_radix(f[1], 16).unwrap(),
            )
        })
    })
}

pub fn assert_dwarf_matches_map(efi: &Path, map: &Path, function: &str) {
    let dump = need_tool(LLVM_DWARFDUMP).unwrap_or_else(|e| panic!("{e}"));
    let verify = run_checked(
        Command::new(&dump).arg("--verify").arg(efi),
        "llvm-dwarfdump --verify",
    );
    assert!(
        verify.contains("No errors."),
        "DWARF of {} does not verify:\n{verify}",
        efi.display()
    );

    let map = std::fs::read_to_string(map).unwrap();
    let (addr, size) =
        map_symbol(&map, function).unwrap_or_else(|| panic!("{function} not in map"));
    let out = run_checked(
        Command::new(&dump)
            .arg(format!("--name={function}"))
            .arg(efi),
        "llvm-dwarfdump --name",
    );
    let attr = |name: &str| -> u64 {
        let line = out
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} for {function}:\n{out}"));
        let hex = line
            .split("(0x")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap();
        u64::from_str_radix(hex, 16).unwrap()
    };
    let low = attr("DW_AT_low_pc");
    assert_eq!(low, addr, "DW_AT_low_pc of {function} vs the map:\n{out}");
    // clang writes high_pc as an offset (DW_FORM_data4), which llvm-dwarfdump prints as an address.
    assert_eq!(
        attr("DW_AT_high_pc") - low,
        size,
        "DW_AT_high_pc of {function}:\n{out}"
    );
}
