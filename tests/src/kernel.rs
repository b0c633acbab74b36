//! Real Linux kernels for the UKI end-to-end boots: Debian's kernels and systemd's UKI stub as
//! `scripts/fetch-kernels.sh` caches them, the initramfs of `scripts/mkinitramfs.sh` (a static
//! `/init` that prints [`marker`] and the kernel command line, then powers off), and what a boot
//! needs (console, RAM, time limit).
//!
//! ```ignore
//! let kernel = require!(peln_tests::kernel::kernel(Arch::Arm64));
//! require!(peln_tests::kernel::check_initramfs_tools());
//! let initrd = peln_tests::kernel::build_initramfs(Arch::Arm64, work.path());
//! let r = peln_tests::kernel::boot_from_uefi_shell(Arch::Arm64, &kernel, &initrd, "console=ttyAMA0", work.path());
//! peln_tests::kernel::assert_init_ran(&r, Arch::Arm64, "console=ttyAMA0");
//! ```
//! Missing files are errors for [`crate::require!`]: a skip, or a failure under `CI=true`.
use crate::cc::run_checked;
use crate::env::{all_ok, cache_dir, fw_dir, need_tool, present, repo_root, LD_LLD};
use crate::qemu::{boot, BootOpts, BootResult, Media};
use crate::Arch;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The arches Debian ships a kernel for: all four (trixie; loong64 only in sid, fetched from there).
pub const KERNEL_ARCHES: [Arch; 4] = Arch::ALL;

/// Guest RAM for a kernel boot. 512 MiB boots all three kernels with the tiny initramfs; a UKI
/// holds a second copy of kernel and initrd while the stub runs, so leave room.
pub const KERNEL_MEMORY_MIB: u32 = 1024;

/// Time limit of one kernel boot. Firmware + kernel to `/init` take 8–15 s on an idle 2-core
/// machine under TCG; other boots running at the same time can make that several times longer.
pub const KERNEL_TIMEOUT: Duration = Duration::from_secs(600);

/// The prefix of the line `/init` prints with `/proc/cmdline`.
pub const CMDLINE_PREFIX: &str = "PELN-INIT: cmdline: ";

/// Where the kernel of `arch` is cached: `<cache>/kernels/<arch>/vmlinuz.efi`.
pub fn kernel_path(arch: Arch) -> PathBuf {
    cache_dir()
        .join("kernels")
        .join(arch.pectl_machine())
        .join("vmlinuz.efi")
}

/// Where systemd's x86-64 UKI stub is cached: `<cache>/systemd/linuxx64.efi.stub`.
pub fn systemd_stub_path() -> PathBuf {
    cache_dir().join("systemd/linuxx64.efi.stub")
}

/// The PE Machine field of `path` (reads the headers only).
fn pe_machine(path: &Path) -> Result<u16, String> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let u32_at = |o: usize| {
        head.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let pe = u32_at(0x3c).unwrap_or(u32::MAX) as usize;
    if head.get(..2) != Some(b"MZ") || head.get(pe..pe.saturating_add(4)) != Some(b"PE\0\0") {
        return Err(format!("{} is not a PE image", path.display()));
    }
    Ok(u16::from_le_bytes([head[pe + 4], head[pe + 5]]))
}

fn cached_pe(path: PathBuf, arch: Arch, what: &str) -> Result<PathBuf, String> {
    let path = present(
        path,
        what,
        "run scripts/fetch-kernels.sh or scripts/setup-test-env.sh; PELN_CACHE_DIR moves the cache",
    )?;
    match pe_machine(&path)? {
        m if m == arch.pe_machine() => Ok(path),
        m => Err(format!(
            "{what} {} has PE machine {m:#x}, expected {:#x} for {arch}",
            path.display(),
            arch.pe_machine()
        )),
    }
}

/// The cached Debian kernel of `arch` (a PE image with the Linux EFI stub), or why it is missing.
pub fn kernel(arch: Arch) -> Result<PathBuf, String> {
    if !KERNEL_ARCHES.contains(&arch) {
        return Err(format!("no Debian kernel for {arch}"));
    }
    cached_pe(kernel_path(arch), arch, &format!("{arch} kernel"))
}

/// The cached systemd-boot x86-64 UKI stub (`linuxx64.efi.stub`), or why it is missing.
pub fn systemd_stub() -> Result<PathBuf, String> {
    cached_pe(systemd_stub_path(), Arch::Amd64, "systemd stub")
}

/// All four kernels and the systemd stub are cached (the error lists everything missing).
pub fn check_kernels() -> Result<(), String> {
    all_ok(
        KERNEL_ARCHES
            .iter()
            .map(|&a| kernel(a).map(drop))
            .chain([systemd_stub().map(drop)]),
    )
}

/// The tools `scripts/mkinitramfs.sh` runs (clang-19, ld.lld-19, bash) are on PATH.
pub fn check_initramfs_tools() -> Result<(), String> {
    all_ok([crate::env::CLANG, LD_LLD, "bash"].map(|t| need_tool(t).map(drop)))
}

/// `scripts/mkinitramfs.sh`.
pub fn mkinitramfs_script() -> PathBuf {
    repo_root().join("scripts/mkinitramfs.sh")
}

/// Builds the initramfs of `arch` (`/init` from `tests/programs/init/init.c`, `/dev`, `/proc`) with
/// `scripts/mkinitramfs.sh` into `<dir>/initramfs-<arch>.cpio` and returns that path. Panics with
/// the script's output if it fails (check [`check_initramfs_tools`] first).
pub fn build_initramfs(arch: Arch, dir: impl AsRef<Path>) -> PathBuf {
    let out = dir
        .as_ref()
        .join(format!("initramfs-{}.cpio", arch.pectl_machine()));
    let mut cmd = Command::new("bash");
    cmd.arg(mkinitramfs_script())
        .arg(arch.pectl_machine())
        .arg(&out);
    run_checked(&mut cmd, &format!("building the {arch} initramfs"));
    out
}

/// The kernel console argument for QEMU's first serial port: `console=ttyS0` (8250/16550 on q35
/// and riscv64/loongarch64 virt) or `console=ttyAMA0` (PL011 on arm64 virt).
pub fn console(arch: Arch) -> &'static str {
    match arch {
        Arch::Arm64 => "console=ttyAMA0",
        Arch::Amd64 | Arch::Riscv64 | Arch::Loongarch64 => "console=ttyS0",
    }
}

/// The line `/init` prints first: `PELN-INIT: <arch> booted`.
pub fn marker(arch: Arch) -> String {
    format!("PELN-INIT: {} booted", arch.pectl_machine())
}

/// Boot options for a kernel: [`KERNEL_MEMORY_MIB`], [`KERNEL_TIMEOUT`], and no `stop_when`:
/// `/init` powers the machine off, so QEMU ends by itself once both lines are out.
pub fn kernel_boot_opts() -> BootOpts {
    BootOpts {
        timeout: KERNEL_TIMEOUT,
        stop_when: None,
        memory_mib: Some(KERNEL_MEMORY_MIB),
        ..BootOpts::default()
    }
}

/// The command line `/init` saw (the text after [`CMDLINE_PREFIX`]), if it printed one.
pub fn init_cmdline(serial: &str) -> Option<&str> {
    serial
        .lines()
        .find_map(|l| l.split_once(CMDLINE_PREFIX).map(|(_, c)| c.trim_end()))
}

/// Panics (with the boot log) unless `/init` ran on `arch`: the marker line, a command line that
/// contains `cmdline_part`, no `PELN-INIT: ... failed` line, and the guest powered QEMU off.
pub fn assert_init_ran(r: &BootResult, arch: Arch, cmdline_part: &str) {
    r.assert_contains(&marker(arch));
    let cmdline = init_cmdline(&r.serial)
        .unwrap_or_else(|| panic!("/init printed no {CMDLINE_PREFIX:?} line\n{}", r.describe()));
    assert!(
        cmdline.contains(cmdline_part),
        "/proc/cmdline is {cmdline:?}, expected it to contain {cmdline_part:?}\n{}",
        r.describe()
    );
    let failed: Vec<&str> = r
        .serial
        .lines()
        .filter(|l| l.starts_with("PELN-INIT: ") && l.contains(" failed: "))
        .collect();
    assert!(
        failed.is_empty(),
        "/init reported {failed:?}\n{}",
        r.describe()
    );
    r.assert_exited();
}

/// Boots `kernel` with `initrd` through the UEFI Shell (the debugging path, independent of any
/// UKI): a FAT dir `<dir>/shell-esp-<arch>` holds the shell as the removable-media boot file, the
/// kernel as `\vmlinuz.efi`, the initrd as `\initrd.cpio` and a `startup.nsh` that runs
/// `fs0:\vmlinuz.efi <cmdline> initrd=\initrd.cpio` (the Linux EFI stub loads the initrd). The
/// shell waits 5 s before it runs `startup.nsh`.
pub fn boot_from_uefi_shell(
    arch: Arch,
    kernel: &Path,
    initrd: &Path,
    cmdline: &str,
    dir: &Path,
) -> BootResult {
    let esp = dir.join(format!("shell-esp-{}", arch.pectl_machine()));
    let boot_dir = esp.join("EFI/BOOT");
    std::fs::create_dir_all(&boot_dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", boot_dir.display()));
    let shell = fw_dir().join(arch.uefi_shell_rel_path());
    for (from, to) in [
        (shell.as_path(), boot_dir.join(arch.efi_boot_file())),
        (kernel, esp.join("vmlinuz.efi")),
        (initrd, esp.join("initrd.cpio")),
    ] {
        std::fs::copy(from, &to)
            .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", from.display(), to.display()));
    }
    let nsh = format!("fs0:\r\n\\vmlinuz.efi {cmdline} initrd=\\initrd.cpio\r\n");
    std::fs::write(esp.join("startup.nsh"), nsh).expect("write startup.nsh");
    boot(arch, &Media::FatDir(esp), kernel_boot_opts())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_cmdline_is_the_rest_of_the_line() {
        let serial = "[    5.2] Run /init as init process\nPELN-INIT: amd64 booted\n\
                      PELN-INIT: cmdline: console=ttyS0 peln=1 \n[    5.5] reboot: Power down\n";
        assert_eq!(init_cmdline(serial), Some("console=ttyS0 peln=1"));
        assert_eq!(init_cmdline("PELN-INIT: amd64 booted\n"), None);
    }

    #[test]
    fn consoles_and_markers() {
        assert_eq!(console(Arch::Arm64), "console=ttyAMA0");
        assert_eq!(console(Arch::Riscv64), "console=ttyS0");
        assert_eq!(marker(Arch::Riscv64), "PELN-INIT: riscv64 booted");
    }

    #[test]
    fn pe_machine_rejects_non_pe_and_reads_machine() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"not a PE").unwrap();
        assert!(pe_machine(&p).is_err());
        let mut img = vec![0u8; 0x100];
        img[..2].copy_from_slice(b"MZ");
        img[0x3c] = 0x80;
        img[0x80..0x84].copy_from_slice(b"PE\0\0");
        img[0x84..0x86].copy_from_slice(&0xaa64u16.to_le_bytes());
        std::fs::write(&p, &img).unwrap();
        assert_eq!(pe_machine(&p), Ok(0xaa64));
        assert!(cached_pe(p.clone(), Arch::Amd64, "k").is_err());
        assert_eq!(cached_pe(p.clone(), Arch::Arm64, "k"), Ok(p));
    }
}
