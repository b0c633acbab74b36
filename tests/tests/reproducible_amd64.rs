//! Reproducibility of `pectl link`: the same inputs give byte-identical images, across time (a
//! second apart, so a wall-clock timestamp would show), across output directories, and with
//! SOURCE_DATE_EPOCH set. One test function only: it sets an environment variable, which must not
//! race with other threads of this process.
use peln_tests::{
    build_test_program, check_needs, link_with_pectl, require, Arch, LinkOpts, Need, Variant,
    WorkDir,
};
use std::path::{Path, PathBuf};

fn link(inputs: &[PathBuf], out: &Path) -> Vec<u8> {
    link_with_pectl(pectl::run, Arch::Amd64, out, inputs, &LinkOpts::default());
    std::fs::read(out).unwrap()
}

fn assert_identical(a: &[u8], b: &[u8], what: &str) {
    if a != b {
        let first = a
            .iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        panic!(
            "{what}: images differ (sizes {} and {}, first difference at offset {first:#x})",
            a.len(),
            b.len()
        );
    }
}

#[test]
fn pectl_amd64_links_are_byte_identical_across_time_dirs_and_source_date_epoch() {
    require!(check_needs(Arch::Amd64, &[Need::Clang, Need::LlvmAr]));
    let work = WorkDir::new("amd64-repro");
    for variant in [Variant::coff(), Variant::elf_pie()] {
        let program = build_test_program(
            Arch::Amd64,
            &variant,
            &work.subdir(format!("{}/obj", variant.name)),
        );
        let inputs = program.inputs();
        let v = &variant.name;

        std::env::remove_var("SOURCE_DATE_EPOCH");
        let first = link(&inputs, &work.join(format!("{v}/a/BOOTX64.EFI")));
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let second = link(&inputs, &work.join(format!("{v}/b/BOOTX64.EFI")));
        assert_identical(&first, &second, &format!("{v}: two links a second apart"));

        std::env::set_var("SOURCE_DATE_EPOCH", "1700000000");
        let e1 = link(&inputs, &work.join(format!("{v}/c/BOOTX64.EFI")));
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let e2 = link(&inputs, &work.join(format!("{v}/d/BOOTX64.EFI")));
        std::env::remove_var("SOURCE_DATE_EPOCH");
        assert_identical(
            &e1,
            &e2,
            &format!("{v}: two links with SOURCE_DATE_EPOCH=1700000000"),
        );
    }
}
