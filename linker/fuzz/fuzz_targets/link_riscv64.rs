#![no_main]
use peln_linker::Machine;
use peln_linker_fuzz::{link_beside, MAIN_RISCV64_ELF};

libfuzzer_sys::fuzz_target!(|data: &[u8]| link_beside(Machine::Riscv64, MAIN_RISCV64_ELF, data));
