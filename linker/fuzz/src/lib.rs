//! What the fuzz targets share: the valid objects a fuzzed input is linked beside, and the link.
use peln_linker::{icf, LinkArgs, Machine};

/// `efi_main` calling `helper` and reading `table`/`fns`, which the fuzzed input defines when it
/// is a mutated `helper` object (the seeds in `corpus/`).
pub const MAIN_AMD64_COFF: &[u8] = include_bytes!("../seeds/main-amd64-coff.o");
pub const MAIN_AMD64_ELF: &[u8] = include_bytes!("../seeds/main-amd64-elf.o");
pub const MAIN_ARM64_COFF: &[u8] = include_bytes!("../seeds/main-arm64-coff.o");
pub const MAIN_ARM64_ELF: &[u8] = include_bytes!("../seeds/main-arm64-elf.o");
pub const MAIN_RISCV64_ELF: &[u8] = include_bytes!("../seeds/main-riscv64-elf.o");
pub const MAIN_LOONGARCH64_ELF: &[u8] = include_bytes!("../seeds/main-loongarch64-elf.o");

/// Links `fuzzed` after `main` in memory, without `--gc-sections`, and with it and identical code
/// folding (lld-link's default pair). Errors are expected; only a panic, a hang or an abort is a
/// finding.
pub fn link_beside(machine: Machine, main: &[u8], fuzzed: &[u8]) {
    for (gc_sections, icf) in [(false, icf::Level::None), (true, icf::Level::All)] {
        let args = LinkArgs {
            gc_sections,
            icf,
            map: Some("fuzz.map".into()),
            machine: Some(machine),
            ..LinkArgs::new("fuzz.efi".into())
        };
        let files = [("main.o".to_string(), main), ("fuzz.o".to_string(), fuzzed)];
        let _ = peln_linker::link_buffers(&args, &files);
    }
}

/// Reads `data` as an object for every machine (all but one refuse it early, by machine).
pub fn read_object(data: &[u8]) {
    for machine in Machine::ALL {
        let _ = peln_linker::input::parse_object("fuzz.o".into(), data, peln_linker::expect(machine));
    }
}
