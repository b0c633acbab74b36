#![no_main]
use peln_linker::Machine;
use peln_linker_fuzz::{link_beside, MAIN_ARM64_COFF, MAIN_ARM64_ELF};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    link_beside(Machine::Arm64, MAIN_ARM64_COFF, data);
    link_beside(Machine::Arm64, MAIN_ARM64_ELF, data);
});
