//! A real UEFI program built from crates.io crates, linked by whatever `-C linker=` names: `uefi`
//! (allocator, panic handler, console, ResetSystem) and `serde`/`serde_json` (generic code
//! instantiated across crates). It serialises and parses records, checks its own result, prints
//! one `PELN realapp:` line the test compares between linkers and arches, and shuts down.
#![no_std]
#![no_main]

extern crate alloc;

mod work;

use uefi::prelude::*;
use uefi::runtime::ResetType;

#[entry]
fn main() -> Status {
    let report = work::run();
    // The firmware may leave the cursor mid-line and wraps at 80 columns: start a fresh line and
    // keep each line short, so the test sees it whole.
    uefi::println!();
    uefi::println!("PELN realapp: {}", report.line);
    uefi::println!(
        "PELN REALAPP RESULT: {}",
        if report.ok { "PASS" } else { "FAIL" }
    );
    uefi::runtime::reset(ResetType::SHUTDOWN, Status::SUCCESS, None)
}
