//! `peln-boot`: boot one image on one arch under QEMU + edk2 (or U-Boot) and check its serial
//! console.
//!
//! The Taskfile's `boot-*` tasks use it so that the command line, firmware lookup and serial
//! cleaning are the same ones the cargo tests use (`peln_tests::qemu`).
//!
//! ```text
//! peln-boot ARCH MEDIA --expect TEXT [--expect TEXT]... [--timeout SECONDS] [--memory MIB]
//!           [--secure-boot snakeoil|VARS] [--firmware edk2|uboot]
//!   ARCH   amd64 | arm64 | riscv64 | loongarch64 (U-Boot: amd64 | arm64 | riscv64)
//!   MEDIA  efi:FILE (copied to \EFI\BOOT\BOOT<ARCH>.EFI of a temporary FAT dir)
//!          | fat:DIR | disk:IMAGE | cdrom:IMAGE
//!   --secure-boot  edk2's Secure Boot build (amd64, arm64) with Debian's snakeoil-enrolled
//!                  varstore or the varstore file VARS (scripts/secureboot-vars.sh makes one)
//! ```
//! Exits 0 when every `--expect` text appeared on the serial console, 1 otherwise (printing the
//! console and QEMU's stderr), 2 on a usage error.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use peln_tests::{boot, make_esp_dir, secure_boot_firmware, Arch, BootOpts, FirmwareKind, Media};

const USAGE: &str =
    "usage: peln-boot ARCH efi:FILE|fat:DIR|disk:IMAGE|cdrom:IMAGE --expect TEXT... \
                     [--timeout SECONDS] [--memory MIB] [--secure-boot snakeoil|VARS] \
                     [--firmware edk2|uboot]";

struct Args {
    arch: Arch,
    media: String,
    expect: Vec<String>,
    timeout: Duration,
    memory_mib: Option<u32>,
    secure_boot: Option<PathBuf>,
    firmware: FirmwareKind,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let arch = argv.next().ok_or("missing ARCH")?;
    let arch = Arch::ALL
        .into_iter()
        .find(|a| a.pectl_machine() == arch)
        .ok_or_else(|| format!("unknown arch {arch:?}"))?;
    let media = argv.next().ok_or("missing MEDIA")?;
    let (mut expect, mut timeout, mut memory_mib) = (Vec::new(), Duration::from_secs(300), None);
    let mut secure_boot = None;
    let mut firmware = FirmwareKind::Edk2;
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--expect" => expect.push(value),
            "--timeout" => {
                let s: u64 = value
                    .parse()
                    .map_err(|_| format!("bad --timeout {value:?}"))?;
                timeout = Duration::from_secs(s);
            }
            "--memory" => {
                memory_mib = Some(
                    value
                        .parse()
                        .map_err(|_| format!("bad --memory {value:?}"))?,
                )
            }
            "--secure-boot" if value == "snakeoil" => {
                secure_boot = Some(secure_boot_firmware(arch)?.snakeoil_vars)
            }
            "--secure-boot" => secure_boot = Some(PathBuf::from(value)),
            "--firmware" => {
                firmware = match value.as_str() {
                    "edk2" => FirmwareKind::Edk2,
                    "uboot" => FirmwareKind::UBoot,
                    _ => return Err(format!("bad --firmware {value:?} (edk2 or uboot)")),
                }
            }
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    if expect.is_empty() {
        return Err("at least one --expect is required".into());
    }
    if firmware == FirmwareKind::UBoot && secure_boot.is_some() {
        return Err("--secure-boot is edk2's (not with --firmware uboot)".into());
    }
    Ok(Args {
        arch,
        media,
        expect,
        timeout,
        memory_mib,
        secure_boot,
        firmware,
    })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("peln-boot: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Some((kind, path)) = args.media.split_once(':') else {
        eprintln!("peln-boot: MEDIA must be KIND:PATH\n{USAGE}");
        return ExitCode::from(2);
    };
    let path = PathBuf::from(path);
    // Keeps the temporary ESP alive for the duration of the boot.
    let mut _esp = None;
    let media = match kind {
        "efi" => {
            let dir = tempfile::Builder::new()
                .prefix("peln-boot-esp-")
                .tempdir()
                .expect("temp dir");
            make_esp_dir(args.arch, &path, dir.path());
            let m = Media::FatDir(dir.path().to_path_buf());
            _esp = Some(dir);
            m
        }
        "fat" => Media::FatDir(path),
        "disk" => Media::Disk(path),
        "cdrom" => Media::Cdrom(path),
        _ => {
            eprintln!("peln-boot: unknown media kind {kind:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let opts = BootOpts {
        timeout: args.timeout,
        // The guest powers itself off once it has printed everything (kernel /init, payload).
        stop_when: None,
        memory_mib: args.memory_mib,
        secure_boot: args.secure_boot,
        firmware: args.firmware,
    };
    let result = boot(args.arch, &media, opts);
    let missing: Vec<&String> = args
        .expect
        .iter()
        .filter(|t| !result.serial.contains(t.as_str()))
        .collect();
    if missing.is_empty() {
        for line in result
            .serial
            .lines()
            .filter(|l| args.expect.iter().any(|t| l.contains(t.as_str())))
        {
            println!("{line}");
        }
        println!(
            "peln-boot: {} {}: ok in {:.1} s",
            args.arch.pectl_machine(),
            args.media,
            result.elapsed.as_secs_f64()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "peln-boot: {} {}: missing {missing:?}\n{}",
            args.arch.pectl_machine(),
            args.media,
            result.describe()
        );
        ExitCode::FAILURE
    }
}
