//! Boots UEFI media in QEMU (TCG) with edk2 or U-Boot firmware and captures the serial console.
//!
//! Command lines are exactly those of TESTENV.md: pflash CODE read-only plus a per-run copy of the
//! VARS template, `-m 512 -smp 1 -nographic -nic none -no-reboot -boot menu=on,splash-time=0`
//! (`-m 1024` on loongarch64; [`BootOpts::memory_mib`] overrides it, e.g. for Linux kernels). With
//! [`BootOpts::secure_boot`] the firmware is edk2's Secure Boot build (amd64, arm64) with a copy of
//! the given enrolled varstore; on amd64 that build keeps its variables in SMM, so the machine gets
//! `smm=on` and a secure pflash (`-global driver=cfi.pflash01,property=secure,value=on`). Under
//! U-Boot ([`FirmwareKind::UBoot`]) the pflash pair is replaced by Debian's U-Boot image: `-bios
//! u-boot.bin` on arm64, `-bios u-boot.rom` on amd64, and on riscv64 the S-mode U-Boot as
//! `-kernel` over QEMU's own OpenSBI (`-bios default`). Boots are serialised by a machine-wide lock
//! (`boot_lock`): TCG is CPU-bound, `cargo test` runs tests in parallel threads, and several test
//! processes (workspace crates, worktrees) may boot at once.
use crate::env::{firmware, need_tool, secure_boot_firmware, uboot};
use crate::Arch;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What edk2 prints (its `%r` of EFI_SECURITY_VIOLATION / EFI_ACCESS_DENIED, e.g. `BdsDxe: failed to
/// load Boot0001 ... : Access Denied`) when Secure Boot refuses an image.
pub const ACCESS_DENIED: &str = "Access Denied";

/// Default time limit of a boot (TCG on a loaded 2-core machine).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Holds the machine-wide QEMU lock until dropped: an exclusive `flock` on a file in the temp dir,
/// so boots of every test process on this machine run one at a time (released by the kernel if the
/// process dies).
pub fn boot_lock() -> std::fs::File {
    let path = std::env::temp_dir().join("peln-qemu.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
    file
}

/// What to boot from.
#[derive(Clone, Debug)]
pub enum Media {
    /// A host directory exported as a FAT drive (must contain `EFI/BOOT/<boot file>`).
    FatDir(PathBuf),
    /// A raw disk image (e.g. a hybrid ISO) on virtio-blk.
    Disk(PathBuf),
    /// An ISO as a CD-ROM (IDE on amd64, virtio-scsi elsewhere).
    Cdrom(PathBuf),
}

/// Which UEFI implementation the machine starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FirmwareKind {
    /// edk2 (OVMF, AAVMF, ...) from pflash, the default.
    #[default]
    Edk2,
    /// Debian's `u-boot-qemu` (amd64, arm64, riscv64; there is no loongarch64 build).
    UBoot,
}

/// The firmware files of one boot, as [`qemu_args`] puts them on the command line.
#[derive(Clone, Copy, Debug)]
pub enum FirmwareFiles<'a> {
    /// edk2's read-only code flash and this run's writable copy of the variable store.
    /// `secure_boot`: `code` is edk2's Secure Boot build, which on amd64 needs SMM and a secure
    /// pflash.
    Edk2 {
        code: &'a Path,
        vars: &'a Path,
        secure_boot: bool,
    },
    /// U-Boot's image (it keeps its variables in `ubootefi.var` on the boot medium, if writable).
    UBoot(&'a Path),
}

/// Options of one boot.
#[derive(Clone, Debug)]
pub struct BootOpts {
    /// QEMU is killed after this long.
    pub timeout: Duration,
    /// Kill QEMU as soon as this text appears in the (cleaned) serial output.
    pub stop_when: Option<String>,
    /// Guest RAM in MiB (`-m`); `None` is the TESTENV default (512, 1024 on loongarch64).
    pub memory_mib: Option<u32>,
    /// edk2 or U-Boot.
    pub firmware: FirmwareKind,
    /// Boot edk2's Secure Boot build with a copy of this varstore (keys enrolled, Secure Boot on;
    /// [`crate::SecureBootFirmware::snakeoil_vars`] is Debian's); `None`: the plain build. edk2 only.
    pub secure_boot: Option<PathBuf>,
}

impl Default for BootOpts {
    fn default() -> Self {
        BootOpts {
            timeout: DEFAULT_TIMEOUT,
            stop_when: None,
            memory_mib: None,
            firmware: FirmwareKind::Edk2,
            secure_boot: None,
        }
    }
}

impl BootOpts {
    /// Default timeout, stop once `text` is seen.
    pub fn stop_when(text: impl Into<String>) -> BootOpts {
        BootOpts {
            stop_when: Some(text.into()),
            ..BootOpts::default()
        }
    }
}

/// Outcome of a boot.
#[derive(Clone, Debug)]
pub struct BootResult {
    /// Serial console output with ANSI escape sequences, `\r` and NULs removed.
    pub serial: String,
    /// QEMU ended by itself (e.g. the program called ResetSystem(EfiResetShutdown) under `-no-reboot`).
    pub exited: bool,
    /// QEMU was killed at the timeout.
    pub timed_out: bool,
    /// QEMU was killed because `stop_when` appeared.
    pub stopped: bool,
    /// Exit code when `exited`.
    pub exit_code: Option<i32>,
    /// QEMU's own stderr (errors about the command line, missing files, ...).
    pub stderr: String,
    /// The QEMU command line, for messages.
    pub command: String,
    pub elapsed: Duration,
}

impl BootResult {
    /// A readable summary for assertion messages: how the boot ended, the command and the serial log.
    pub fn describe(&self) -> String {
        let how = if self.timed_out {
            "timed out".to_string()
        } else if self.stopped {
            "stopped (stop_when seen)".to_string()
        } else {
            format!("exited with {:?}", self.exit_code)
        };
        format!(
            "QEMU {how} after {:.1}s\ncommand: {}\n--- qemu stderr ---\n{}\n--- serial ---\n{}\n--- end serial ---",
            self.elapsed.as_secs_f64(),
            self.command,
            self.stderr.trim_end(),
            self.serial
        )
    }

    /// Panics (with [`BootResult::describe`]) unless the serial output contains `text`.
    pub fn assert_contains(&self, text: &str) {
        assert!(
            self.serial.contains(text),
            "expected {text:?} on the serial console\n{}",
            self.describe()
        );
    }

    /// Panics unless QEMU exited by itself (the guest shut the machine down).
    pub fn assert_exited(&self) {
        assert!(
            self.exited,
            "expected the guest to shut QEMU down\n{}",
            self.describe()
        );
    }
}

/// Removes ANSI/VT100 escape sequences (CSI `ESC [ ... final`, `ESC ( x`, other two-byte `ESC x`),
/// `\r` and NUL from console output.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\u{1b}' => match it.next() {
                Some('[') => {
                    // parameters and intermediates, then one final byte in 0x40..=0x7e
                    for d in it.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&d) {
                            break;
                        }
                    }
                }
                Some('(') | Some(')') | Some('#') => {
                    it.next();
                }
                _ => {}
            },
            '\r' | '\0' => {}
            c => out.push(c),
        }
    }
    out
}

/// The default guest RAM of `arch` in MiB (TESTENV.md): 512, and 1024 on loongarch64.
pub fn default_memory_mib(arch: Arch) -> u32 {
    if arch == Arch::Loongarch64 {
        1024
    } else {
        512
    }
}

/// The QEMU arguments (without the binary) for `arch` booting `media` with `fw` and `memory_mib`
/// of RAM (`None`: [`default_memory_mib`]).
pub fn qemu_args(
    arch: Arch,
    fw: FirmwareFiles,
    media: &Media,
    memory_mib: Option<u32>,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |s: &str| a.push(s.into());
    match arch {
        // edk2's Secure Boot build keeps its variables in SMM on amd64.
        Arch::Amd64
            if matches!(
                fw,
                FirmwareFiles::Edk2 {
                    secure_boot: true,
                    ..
                }
            ) =>
        {
            push("-machine");
            push("q35,smm=on,accel=tcg");
            push("-global");
            push("driver=cfi.pflash01,property=secure,value=on");
        }
        // Debian's qemu-x86_64 U-Boot is built for the i440FX board (its device tree says so). On
        // q35 it programs the variable MTRRs so that Linux trims all RAM above 1 MiB as uncached
        // ("CPU MTRRs don't cover all of memory, losing 1023MB of RAM") and panics before its
        // console is up: the README's U-Boot section has the evidence.
        Arch::Amd64 if matches!(fw, FirmwareFiles::UBoot(_)) => {
            push("-machine");
            push("pc,accel=tcg");
        }
        Arch::Amd64 => {
            push("-machine");
            push("q35,accel=tcg");
        }
        Arch::Arm64 => {
            push("-machine");
            push("virt");
            push("-cpu");
            push("max");
        }
        Arch::Riscv64 => {
            push("-machine");
            push("virt");
        }
        Arch::Loongarch64 => {
            push("-machine");
            push("virt");
            push("-cpu");
            push("la464");
        }
    }
    let mem = memory_mib
        .unwrap_or_else(|| default_memory_mib(arch))
        .to_string();
    for s in [
        "-m",
        &mem,
        "-smp",
        "1",
        "-nographic",
        "-nic",
        "none",
        "-no-reboot",
        "-boot",
        "menu=on,splash-time=0",
    ] {
        push(s);
    }
    match fw {
        FirmwareFiles::Edk2 { code, vars, .. } => {
            let mut flash = |unit: u32, readonly: bool, file: &Path| {
                let mut d = OsString::from(format!("if=pflash,format=raw,unit={unit},"));
                if readonly {
                    d.push("readonly=on,");
                }
                d.push("file=");
                d.push(qemu_escape(file));
                a.push("-drive".into());
                a.push(d);
            };
            flash(0, true, code);
            flash(1, false, vars);
        }
        // riscv64's U-Boot is an S-mode payload: QEMU's bundled OpenSBI runs in M-mode and jumps
        // to it.
        FirmwareFiles::UBoot(image) if arch == Arch::Riscv64 => {
            a.extend(["-bios".into(), "default".into(), "-kernel".into()]);
            a.push(image.into());
        }
        FirmwareFiles::UBoot(image) => {
            a.push("-bios".into());
            a.push(image.into());
        }
    }
    let mut drive = |spec: &str, file: OsString| {
        let mut d = OsString::from(spec);
        d.push(file);
        a.push("-drive".into());
        a.push(d);
    };
    match media {
        Media::FatDir(dir) => {
            let mut f = OsString::from("fat:");
            f.push(qemu_escape(dir));
            drive("if=none,id=esp,format=raw,readonly=on,file=", f);
            a.extend(["-device".into(), "virtio-blk-pci,drive=esp".into()]);
        }
        Media::Disk(img) => {
            drive(
                "if=none,id=d0,format=raw,readonly=on,file=",
                qemu_escape(img),
            );
            a.extend(["-device".into(), "virtio-blk-pci,drive=d0".into()]);
        }
        Media::Cdrom(img) => {
            drive(
                "if=none,id=cd0,media=cdrom,readonly=on,format=raw,file=",
                qemu_escape(img),
            );
            if arch == Arch::Amd64 {
                a.extend(["-device".into(), "ide-cd,drive=cd0".into()]);
            } else {
                a.extend([
                    "-device".into(),
                    "virtio-scsi-pci,id=scsi0".into(),
                    "-device".into(),
                    "scsi-cd,drive=cd0,bus=scsi0.0".into(),
                ]);
            }
        }
    }
    a
}

/// QEMU option values use `,` as separator: a literal comma is written `,,`.
fn qemu_escape(p: &Path) -> OsString {
    let s = p.as_os_str().to_string_lossy();
    OsString::from(s.replace(',', ",,"))
}

/// Boots `media` on `arch` and returns the serial output. Panics if QEMU or the firmware is missing
/// (check with `check_needs(arch, &[Need::Qemu])` first) or QEMU cannot be started.
pub fn boot(arch: Arch, media: &Media, opts: BootOpts) -> BootResult {
    let qemu = need_tool(arch.qemu_binary()).unwrap_or_else(|e| panic!("{e}"));
    match media {
        Media::FatDir(p) | Media::Disk(p) | Media::Cdrom(p) => {
            assert!(p.exists(), "boot media {} does not exist", p.display())
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix("peln-qemu-")
        .tempdir()
        .expect("temp dir");
    let vars = tmp.path().join("VARS.fd");
    let args = match opts.firmware {
        FirmwareKind::Edk2 => {
            let (code, vars_template) = match &opts.secure_boot {
                Some(enrolled) => {
                    let sb = secure_boot_firmware(arch).unwrap_or_else(|e| panic!("{e}"));
                    (sb.code, enrolled.clone())
                }
                None => {
                    let fw = firmware(arch).unwrap_or_else(|e| panic!("{e}"));
                    (fw.code, fw.vars_template)
                }
            };
            std::fs::copy(&vars_template, &vars)
                .unwrap_or_else(|e| panic!("cannot copy {}: {e}", vars_template.display()));
            let files = FirmwareFiles::Edk2 {
                code: &code,
                vars: &vars,
                secure_boot: opts.secure_boot.is_some(),
            };
            qemu_args(arch, files, media, opts.memory_mib)
        }
        FirmwareKind::UBoot => {
            assert!(
                opts.secure_boot.is_none(),
                "a Secure Boot varstore is for edk2's secboot build, not U-Boot"
            );
            let image = uboot(arch).unwrap_or_else(|e| panic!("{e}"));
            qemu_args(arch, FirmwareFiles::UBoot(&image), media, opts.memory_mib)
        }
    };

    let mut cmd = Command::new(&qemu);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let command = crate::cc::command_line(&cmd);

    let _guard = boot_lock();
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));

    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let mut stdout = child.stdout.take().expect("stdout piped");
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut stderr_pipe = child.stderr.take().expect("stderr piped");
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });

    let mut raw = Vec::new();
    let (mut timed_out, mut stopped) = (false, false);
    loop {
        let left = opts.timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        match rx.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(chunk) => {
                raw.extend_from_slice(&chunk);
                if let Some(stop) = &opts.stop_when {
                    if strip_ansi(&String::from_utf8_lossy(&raw)).contains(stop.as_str()) {
                        stopped = true;
                        break;
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break, // stdout closed: QEMU is ending
        }
    }
    let exited = !(timed_out || stopped);
    if !exited {
        let _ = child.kill();
    }
    let status = child.wait().ok();
    let _ = reader.join();
    while let Ok(chunk) = rx.try_recv() {
        raw.extend_from_slice(&chunk);
    }
    let stderr = err_reader.join().unwrap_or_default();
    let elapsed = start.elapsed();
    drop(_guard);

    BootResult {
        serial: strip_ansi(&String::from_utf8_lossy(&raw)),
        exited,
        timed_out,
        stopped,
        exit_code: if exited {
            status.and_then(|s| s.code())
        } else {
            None
        },
        stderr,
        command,
        elapsed,
    }
}

/// Creates an ESP directory tree `dir/EFI/BOOT/<arch boot file>` holding a copy of `efi`; returns `dir`.
pub fn make_esp_dir(arch: Arch, efi: &Path, dir: &Path) -> PathBuf {
    let boot = dir.join("EFI/BOOT");
    std::fs::create_dir_all(&boot)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", boot.display()));
    let dst = boot.join(arch.efi_boot_file());
    std::fs::copy(efi, &dst)
        .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", efi.display(), dst.display()));
    dir.to_path_buf()
}

/// Boots one EFI application as the removable-media boot file of a FAT directory (a fresh temp
/// dir), with the default timeout; returns when the guest shuts down.
pub fn boot_efi(arch: Arch, efi: &Path) -> BootResult {
    boot_efi_with(arch, efi, BootOpts::default())
}

/// [`boot_efi`] with explicit options.
pub fn boot_efi_with(arch: Arch, efi: &Path, opts: BootOpts) -> BootResult {
    let esp = tempfile::Builder::new()
        .prefix("peln-esp-")
        .tempdir()
        .expect("temp dir");
    make_esp_dir(arch, efi, esp.path());
    boot(arch, &Media::FatDir(esp.path().to_path_buf()), opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edk2() -> FirmwareFiles<'static> {
        FirmwareFiles::Edk2 {
            code: Path::new("/c"),
            vars: Path::new("/v"),
            secure_boot: false,
        }
    }

    #[test]
    fn strip_ansi_removes_edk2_escapes_and_cr() {
        let raw = "\u{1b}[2J\u{1b}[01;01H\u{1b}[=3h\u{1b}[2J\u{1b}[01;01HBdsDxe: x\r\n\u{1b}[0m\u{1b}(BPELN ok\r\n\0";
        assert_eq!(strip_ansi(raw), "BdsDxe: x\nPELN ok\n");
    }

    #[test]
    fn qemu_args_match_testenv_for_fat_dir_on_loongarch64() {
        let fw = FirmwareFiles::Edk2 {
            code: Path::new("/c.fd"),
            vars: Path::new("/v,x.fd"),
            secure_boot: false,
        };
        let a = qemu_args(Arch::Loongarch64, fw, &Media::FatDir("/esp".into()), None);
        let s: Vec<String> = a.iter().map(|x| x.to_string_lossy().into_owned()).collect();
        assert_eq!(
            s.join(" "),
            "-machine virt -cpu la464 -m 1024 -smp 1 -nographic -nic none -no-reboot -boot menu=on,splash-time=0 \
             -drive if=pflash,format=raw,unit=0,readonly=on,file=/c.fd -drive if=pflash,format=raw,unit=1,file=/v,,x.fd \
             -drive if=none,id=esp,format=raw,readonly=on,file=fat:/esp -device virtio-blk-pci,drive=esp"
        );
    }

    #[test]
    fn qemu_args_cdrom_uses_ide_on_amd64_and_scsi_elsewhere() {
        let m = Media::Cdrom("/b.iso".into());
        let x = qemu_args(Arch::Amd64, edk2(), &m, None);
        let r = qemu_args(Arch::Riscv64, edk2(), &m, None);
        assert!(x.iter().any(|s| s == "ide-cd,drive=cd0"));
        assert!(r.iter().any(|s| s == "scsi-cd,drive=cd0,bus=scsi0.0"));
        assert!(r.iter().any(|s| s == "-m") && r.iter().any(|s| s == "512"));
    }

    #[test]
    fn qemu_args_memory_override() {
        let m = Media::FatDir("/esp".into());
        let a = qemu_args(Arch::Arm64, edk2(), &m, Some(1536));
        let i = a.iter().position(|s| s == "-m").expect("-m");
        assert_eq!(a[i + 1], "1536");
        assert_eq!(a.iter().filter(|s| *s == "-m").count(), 1);
    }

    #[test]
    fn qemu_args_secure_boot_adds_smm_and_secure_pflash_on_amd64_only() {
        let m = Media::FatDir("/esp".into());
        let line = |arch, secure_boot| {
            let fw = FirmwareFiles::Edk2 {
                code: Path::new("/c"),
                vars: Path::new("/v"),
                secure_boot,
            };
            let a = qemu_args(arch, fw, &m, None);
            let s: Vec<String> = a.iter().map(|x| x.to_string_lossy().into_owned()).collect();
            s.join(" ")
        };
        let x = line(Arch::Amd64, true);
        assert!(
            x.starts_with(
                "-machine q35,smm=on,accel=tcg -global driver=cfi.pflash01,property=secure,value=on -m 512 "
            ),
            "{x}"
        );
        assert_eq!(line(Arch::Arm64, true), line(Arch::Arm64, false));
        assert!(!line(Arch::Amd64, false).contains("smm"));
    }

    #[test]
    fn qemu_args_uboot_as_testenv_says() {
        let m = Media::Disk("/b.iso".into());
        let line = |arch| {
            let a = qemu_args(arch, FirmwareFiles::UBoot(Path::new("/u")), &m, Some(1024));
            let s: Vec<String> = a.iter().map(|x| x.to_string_lossy().into_owned()).collect();
            s.join(" ")
        };
        let disk = "-drive if=none,id=d0,format=raw,readonly=on,file=/b.iso -device virtio-blk-pci,drive=d0";
        let common = "-m 1024 -smp 1 -nographic -nic none -no-reboot -boot menu=on,splash-time=0";
        assert_eq!(
            line(Arch::Arm64),
            format!("-machine virt -cpu max {common} -bios /u {disk}")
        );
        assert_eq!(
            line(Arch::Riscv64),
            format!("-machine virt {common} -bios default -kernel /u {disk}")
        );
        assert_eq!(
            line(Arch::Amd64),
            format!("-machine pc,accel=tcg {common} -bios /u {disk}")
        );
    }
}
