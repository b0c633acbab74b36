//! Self-tests of the boot runner: `stop_when` kills QEMU early, the timeout kills a guest that never
//! shuts down, and a FAILing program is reported as such by `assert_program_passed`.
use peln_tests::qemu::{boot, boot_efi_with, make_esp_dir, BootOpts, Media};
use peln_tests::{check_needs, require, Arch, Need, WorkDir};
use std::time::Duration;

/// A program that prints its check lines and then spins forever (never calls ResetSystem) unless it
/// is told to; built from a one-file C source.
fn build_one_file_program(work: &WorkDir, source: &str) -> std::path::PathBuf {
    let src = work.join("p.c");
    std::fs::write(&src, source).unwrap();
    let inc = format!(
        "-I{}",
        peln_tests::program::programs_dir().join("c").display()
    );
    let obj = work.join("p.obj");
    peln_tests::compile_c(
        Arch::Amd64,
        peln_tests::ObjFormat::Coff,
        &[&inc],
        &src,
        &obj,
    );
    let support = work.join("support.obj");
    peln_tests::compile_c(
        Arch::Amd64,
        peln_tests::ObjFormat::Coff,
        &[],
        &peln_tests::program::programs_dir().join("c/support.c"),
        &support,
    );
    peln_tests::link_with_lld(Arch::Amd64, &work.join("BOOTX64.EFI"), &[obj, support], &[])
}

const HANG: &str = r#"
#include "efi.h"
static CHAR16 msg[] = {'P','E','L','N',' ','c','h','e','c','k',' ','x',':',' ','F','A','I','L','\r','\n',
                       'P','E','L','N',' ','h','a','n','g','i','n','g','\r','\n',0};
EFI_STATUS EFIAPI efi_main(EFI_HANDLE h, EFI_SYSTEM_TABLE *st) {
  (void)h;
  st->ConOut->OutputString(st->ConOut, msg);
  for (;;) __asm__ volatile("pause");
}
"#;

#[test]
fn boot_stop_when_kills_qemu_once_the_text_appears_and_timeout_kills_a_hung_guest() {
    require!(check_needs(
        Arch::Amd64,
        &[Need::Clang, Need::LldLink, Need::Qemu]
    ));
    let work = WorkDir::new("harness-hang");
    let efi = build_one_file_program(&work, HANG);

    let r = boot_efi_with(Arch::Amd64, &efi, BootOpts::stop_when("PELN hanging"));
    assert!(r.stopped && !r.exited && !r.timed_out, "{}", r.describe());
    r.assert_contains("PELN check x: FAIL\nPELN hanging");
    let failed = std::panic::catch_unwind(|| peln_tests::assert_program_passed(&r));
    assert!(
        failed.is_err(),
        "assert_program_passed accepted a FAIL line"
    );

    let esp = make_esp_dir(Arch::Amd64, &efi, &work.subdir("esp"));
    let opts = BootOpts {
        timeout: Duration::from_secs(20),
        stop_when: None,
        ..BootOpts::default()
    };
    let r = boot(Arch::Amd64, &Media::FatDir(esp), opts);
    assert!(r.timed_out && !r.exited, "{}", r.describe());
    r.assert_contains("PELN hanging");
}
