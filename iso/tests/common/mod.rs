//! Shared helpers for the cloud-boot-iso integration tests: tool/firmware discovery with the
//! CI=true rule, running the binary, reading image structures, and a serialised QEMU runner
//! that follows ../shared/TESTENV.md.
#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cloud-boot-iso");

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `true` if `what` is available. Otherwise fail under CI=true (a missing tool there is a broken
/// setup, not a reason to pass), or print "skipped: …" and return `false`.
pub fn require(what: &str, ok: bool) -> bool {
    if ok {
        return true;
    }
    if ci() {
        panic!("{what} is missing (CI=true: scripts/setup-test-env.sh must provide it)");
    }
    eprintln!("skipped: {what} is missing (run scripts/setup-test-env.sh)");
    false
}

pub fn have_tool(tool: &str) -> bool {
    require(
        &format!("tool `{tool}`"),
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
    )
}

pub fn fw_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PELN_FW_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").expect("HOME");
    Path::new(&home).join(".cache/peln/fw")
}

pub fn fw_file(rel: &str) -> Option<PathBuf> {
    let p = fw_dir().join("usr/share").join(rel);
    if require(&format!("firmware file {}", p.display()), p.is_file()) {
        Some(p)
    } else {
        None
    }
}

/// Debian's UEFI Shell app for an arch (third-party PE files).
pub fn shell(arch: &str) -> Option<PathBuf> {
    let rel = match arch {
        "amd64" => "efi-shell-x64/shellx64.efi",
        "arm64" => "efi-shell-aa64/shellaa64.efi",
        "riscv64" => "efi-shell-riscv64/shellriscv64.efi",
        "loongarch64" => "efi-shell-loongarch64/shellloongarch64.efi",
        _ => unreachable!(),
    };
    fw_file(rel)
}

/// A loadable PE32+ image (`pectl verify` passes it), with `magic` and `subsystem` patched in so
/// that tests can break exactly those.
pub fn fake_pe(machine: u16, magic: u16, subsystem: u16) -> Vec<u8> {
    let mut v = peln_pe::synth::image(machine, subsystem);
    v[peln_pe::synth::OPT..peln_pe::synth::OPT + 2].copy_from_slice(&magic.to_le_bytes());
    v
}

/// Run the binary with `args` (SOURCE_DATE_EPOCH cleared unless `env` sets it).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run cloud-boot-iso")
}

/// Run and insist on success.
pub fn build(args: &[&str]) {
    let o = run(args, &[]);
    assert!(
        o.status.success(),
        "cloud-boot-iso {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Run an external tool; returns (success, stdout+stderr).
pub fn tool(cmd: &str, args: &[&str]) -> (bool, String) {
    let o = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {cmd}: {e}"));
    let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&o.stderr));
    (o.status.success(), s)
}

pub fn read_at(path: &Path, off: u64, len: usize) -> Vec<u8> {
    let f = fs::File::open(path).unwrap();
    let mut v = vec![0u8; len];
    f.read_exact_at(&mut v, off).unwrap();
    v
}

pub fn u32le(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
pub fn u64le(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// (first LBA, last LBA, unique GUID text) of GPT entry `n` (1-based), read from the image.
pub fn gpt_partition(image: &Path, n: usize) -> (u64, u64, String) {
    let e = read_at(image, 1024 + 128 * (n as u64 - 1), 128);
    (u64le(&e, 32), u64le(&e, 40), guid_text(&e[16..32]))
}

pub fn guid_text(g: &[u8]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{}",
        u32le(g, 0),
        u16::from_le_bytes([g[4], g[5]]),
        u16::from_le_bytes([g[6], g[7]]),
        g[8],
        g[9],
        g[10..16]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    )
}

/// Copy GPT partition `n` out of the image into its own file (for fsck.fat).
pub fn extract_partition(image: &Path, n: usize, to: &Path) {
    let (first, last, _) = gpt_partition(image, n);
    let data = read_at(image, first * 512, ((last - first + 1) * 512) as usize);
    fs::write(to, data).unwrap();
}

/// Where fixtures built once per test binary live (kept between runs, overwritten each time).
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cloud-boot-iso")
        .join(name);
    fs::create_dir_all(&d).unwrap();
    d
}

// ---------------------------------------------------------------------------------------------
// QEMU
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Cd,
    Disk,
}

pub struct Machine {
    pub qemu: &'static str,
    pub machine_args: &'static [&'static str],
    pub mem: &'static str,
    pub code: &'static str,
    pub vars: &'static str,
}

pub fn machine(arch: &str) -> Machine {
    match arch {
        "amd64" => Machine {
            qemu: "qemu-system-x86_64",
            machine_args: &["-machine", "q35,accel=tcg"],
            mem: "512",
            code: "OVMF/OVMF_CODE_4M.fd",
            vars: "OVMF/OVMF_VARS_4M.fd",
        },
        "arm64" => Machine {
            qemu: "qemu-system-aarch64",
            machine_args: &["-machine", "virt", "-cpu", "max"],
            mem: "512",
            code: "AAVMF/AAVMF_CODE.fd",
            vars: "AAVMF/AAVMF_VARS.fd",
        },
        "riscv64" => Machine {
            qemu: "qemu-system-riscv64",
            machine_args: &["-machine", "virt"],
            mem: "512",
            code: "qemu-efi-riscv64/RISCV_VIRT_CODE.fd",
            vars: "qemu-efi-riscv64/RISCV_VIRT_VARS.fd",
        },
        "loongarch64" => Machine {
            qemu: "qemu-system-loongarch64",
            machine_args: &["-machine", "virt", "-cpu", "la464"],
            mem: "1024",
            code: "qemu-efi-loongarch64/QEMU_EFI.fd",
            vars: "qemu-efi-loongarch64/QEMU_VARS.fd",
        },
        _ => unreachable!(),
    }
}

/// What a boot produced: the serial console with escape sequences and CRs removed.
pub struct Boot {
    pub transcript: String,
    pub elapsed: Duration,
    pub timed_out: bool,
}

const BANNER: &str = "UEFI Interactive Shell v";

/// Boot `image` on `arch` from `media` until the UEFI Shell has printed its banner and mapping
/// table (it then shows "Press ESC in N seconds…" or "Shell>"), or `timeout`. `None` when
/// QEMU or firmware is missing outside CI.
pub fn boot(arch: &str, media: Media, image: &Path, timeout: Duration) -> Option<Boot> {
    let m = machine(arch);
    if !have_tool(m.qemu) {
        return None;
    }
    let code = fw_file(m.code)?;
    let vars_tpl = fw_file(m.vars)?;
    let tmp = tempfile::tempdir().unwrap();
    let vars = tmp.path().join("vars.fd");
    fs::copy(&vars_tpl, &vars).unwrap();

    let img = image.display().to_string();
    let mut args: Vec<String> = m.machine_args.iter().map(|s| s.to_string()).collect();
    for a in [
        "-m",
        m.mem,
        "-smp",
        "1",
        "-nographic",
        "-nic",
        "none",
        "-no-reboot",
        "-boot",
        "menu=on,splash-time=0",
    ] {
        args.push(a.into());
    }
    args.push("-drive".into());
    args.push(format!(
        "if=pflash,format=raw,unit=0,readonly=on,file={}",
        code.display()
    ));
    args.push("-drive".into());
    args.push(format!(
        "if=pflash,format=raw,unit=1,file={}",
        vars.display()
    ));
    match media {
        Media::Disk => {
            args.push("-drive".into());
            args.push(format!("if=none,id=d0,format=raw,readonly=on,file={img}"));
            args.push("-device".into());
            args.push("virtio-blk-pci,drive=d0".into());
        }
        Media::Cd => {
            args.push("-drive".into());
            args.push(format!(
                "if=none,id=cd0,media=cdrom,readonly=on,format=raw,file={img}"
            ));
            if arch == "amd64" {
                args.push("-device".into());
                args.push("ide-cd,drive=cd0".into());
            } else {
                for a in [
                    "-device",
                    "virtio-scsi-pci,id=scsi0",
                    "-device",
                    "scsi-cd,drive=cd0,bus=scsi0.0",
                ] {
                    args.push(a.into());
                }
            }
        }
    }

    // TCG is CPU-bound: one QEMU at a time on this machine, shared with the peln-tests boots.
    let _guard = peln_tests::qemu::boot_lock();
    let start = Instant::now();
    let mut child = Command::new(m.qemu)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", m.qemu));
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    for mut pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let out = out.clone();
        readers.push(std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                out.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        }));
    }
    let mut timed_out = false;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let text = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
        if let Some(at) = text.find(BANNER) {
            let after = &text[at..];
            if after.contains("Press ESC in") || after.contains("Shell>") {
                break;
            }
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    for r in readers {
        let _ = r.join();
    }
    let raw = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
    Some(Boot {
        transcript: clean(&raw),
        elapsed: start.elapsed(),
        timed_out,
    })
}

/// Drop ANSI escape sequences and carriage returns.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' {
            if it.peek() == Some(&'[') {
                it.next();
                for d in it.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out
}

/// Device path of the shell's FS0 (the filesystem it was started from, as the firmware mapped
/// it), with console line wraps undone.
pub fn fs0_path(transcript: &str) -> Option<String> {
    let mut lines = transcript.lines().skip_while(|l| !l.contains("FS0:"));
    lines.next()?;
    let mut path = String::new();
    for l in lines {
        if l.contains("Alias(s):") || l.contains("Press ESC") || l.contains("Shell>") {
            break;
        }
        path.push_str(l.trim());
    }
    Some(path)
}

/// Assert that `b` is Debian's shell started from our media: its banner, no fallback to the
/// firmware's built-in shell (which prints the same banner!), and FS0 on the expected device.
pub fn assert_shell_from_media(arch: &str, media: Media, b: &Boot, expect_in_fs0: &str) {
    let t = &b.transcript;
    let ctx = || {
        format!(
            "{arch} {media:?} after {:.1}s (timed out: {}):\n{}",
            b.elapsed.as_secs_f64(),
            b.timed_out,
            &t[t.len().saturating_sub(3000)..]
        )
    };
    assert!(t.contains(BANNER), "no shell banner: {}", ctx());
    assert!(
        !t.contains("Internal Shell") && !t.contains("failed to load"),
        "firmware fell back to its built-in shell: {}",
        ctx()
    );
    let fs0 = fs0_path(t).unwrap_or_else(|| panic!("no FS0 mapping: {}", ctx()));
    assert!(
        fs0.contains(expect_in_fs0),
        "FS0 is {fs0:?}, expected it to contain {expect_in_fs0:?}: {}",
        ctx()
    );
}
