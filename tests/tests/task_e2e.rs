//! `task e2e`, run as the README tells a newcomer to: the Taskfile compiles the stub for all four
//! arches, links it with pectl, packs UKIs (Debian's kernels: trixie, sid on loongarch64), merges
//! them into one boot.iso and boots every UKI from a FAT dir and boot.iso as a CD and as a disk.
//! Each boot is checked by `peln-boot` against the guest's own marker; this test checks that all
//! twelve boots reported success.
use std::process::Command;

use peln_tests::{check_needs, env::need_tool, require, Arch, Need, WorkDir};

#[test]
fn task_e2e_boots_every_arch_from_fat_dir_cd_and_disk() {
    for arch in Arch::ALL {
        require!(check_needs(arch, &[Need::Qemu, Need::Clang]));
    }
    let task = require!(need_tool("task"));
    require!(peln_tests::kernel::check_kernels());
    let work = WorkDir::new("task-e2e");
    let root = peln_tests::env::repo_root();
    let out = Command::new(task)
        .current_dir(&root)
        .env("PELN_BUILD_DIR", work.path())
        .arg("e2e")
        .output()
        .expect("cannot run task");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "task e2e failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for arch in Arch::ALL {
        let a = arch.pectl_machine();
        for media in [
            format!("efi:{}/{a}/uki.efi", work.path().display()),
            format!("cdrom:{}/boot.iso", work.path().display()),
            format!("disk:{}/boot.iso", work.path().display()),
        ] {
            let ok = format!("peln-boot: {a} {media}: ok");
            assert!(
                stdout.contains(&ok),
                "missing {ok:?} in:\n{stdout}\n{stderr}"
            );
        }
    }
}
