#![no_main]
use peln_linker::Machine;
use peln_linker_fuzz::{link_beside, MAIN_AMD64_COFF, MAIN_AMD64_ELF};

// The archive is indexed, or scanned when it has no index, and its members are loaded by what
// `main` needs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    link_beside(Machine::Amd64, MAIN_AMD64_COFF, data);
    link_beside(Machine::Amd64, MAIN_AMD64_ELF, data);
});
