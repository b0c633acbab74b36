//! Helpers of the cloud-boot-iso integration tests: running the binary and reading image
//! structures. Tool and firmware discovery (with the CI=true rule) and the QEMU runner are the
//! workspace's one harness, peln-tests; this file only adapts them to these tests' arch names.
#![allow(dead_code)]

pub mod live;

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use peln_tests::{skip_unless, Arch, BootOpts, BootResult};

pub const BIN: &str = env!("CARGO_BIN_EXE_cloud-boot-iso");

/// The harness's arch for one of these tests' names (`amd64`, ...).
pub fn arch(name: &str) -> Arch {
    Arch::ALL
        .into_iter()
        .find(|a| a.pectl_machine() == name)
        .unwrap_or_else(|| panic!("unknown arch {name}"))
}

/// `true` if `tool` is on PATH; otherwise the harness's skip policy (a failure under CI).
pub fn have_tool(tool: &str) -> bool {
    skip_unless(peln_tests::env::need_tool(tool)).is_some()
}

/// Debian's UEFI Shell app for an arch (third-party PE files).
pub fn shell(name: &str) -> Option<PathBuf> {
    let p = peln_tests::fw_dir().join(arch(name).uefi_shell_rel_path());
    skip_unless(if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "UEFI shell {} missing (run scripts/setup-test-env.sh)",
            p.display()
        ))
    })
}

/// A loadable PE32+ image (`pectl verify` passes it), with `magic` and `subsystem` patched in so
/// that tests can break exactly those.
pub fn fake_pe(machine: u16, magic: u16, subsystem: u16) -> Vec<u8> {
    let mut v = peln_pe::synth::image(machine, subsystem);
    v[peln_pe::synth::OPT..peln_pe::synth::OPT + 2].copy_from_slice(&magic.to_le_bytes());
    v
}

/// Writes x64.efi, aa64.efi, rv64.efi and la64.efi (one per arch) into `dir`, each padded with
/// `pad` bytes of its own name, so that contents differ per file and a swapped slot would show.
/// Returns their `--uki linux/<arch>=<file>` arguments.
pub fn write_four_arch_ukis(dir: &Path, pad: usize) -> Vec<String> {
    let mut args = Vec::new();
    for (arch, name, machine) in [
        ("amd64", "x64.efi", 0x8664u16),
        ("arm64", "aa64.efi", 0xaa64),
        ("riscv64", "rv64.efi", 0x5064),
        ("loongarch64", "la64.efi", 0x6264),
    ] {
        let mut pe = fake_pe(machine, 0x20b, 10);
        pe.extend(name.bytes().cycle().take(pad));
        fs::write(dir.join(name), pe).unwrap();
        args.extend(uki_args(arch, &dir.join(name)));
    }
    args
}

/// Run the binary `bin` with `args` (SOURCE_DATE_EPOCH cleared unless `env` sets it).
pub fn run_bin(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin);
    c.args(args).env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap_or_else(|e| panic!("run {bin}: {e}"))
}

/// Run `bin` and insist on success.
pub fn build_bin(bin: &str, args: &[impl AsRef<str>]) {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let o = run_bin(bin, &args, &[]);
    assert!(
        o.status.success(),
        "{bin} {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Run cloud-boot-iso with `args` (SOURCE_DATE_EPOCH cleared unless `env` sets it).
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_bin(BIN, args, env)
}

/// Run cloud-boot-iso and insist on success.
pub fn build(args: &[impl AsRef<str>]) {
    build_bin(BIN, args)
}

/// cloud-boot-iso's `--uki linux/<slot>=<efi>`.
pub fn uki_args(slot: impl std::fmt::Display, efi: &Path) -> [String; 2] {
    ["--uki".into(), format!("linux/{slot}={}", efi.display())]
}

/// Runs cloud-boot-iso with `args` and `-q -o <out>`; returns `out`.
pub fn build_image(mut args: Vec<String>, out: PathBuf) -> PathBuf {
    args.extend(["-q".into(), "-o".into(), out.display().to_string()]);
    build(&args);
    out
}

/// Builds `<dir>/<name>` from one fake amd64 UKI and the single `--add` spec `add`, for tests of
/// how the ISO 9660 side holds extra files; returns the image's path.
pub fn build_with_add(dir: &Path, name: &str, add: &str) -> String {
    let uki = dir.join("x64.efi");
    fs::write(&uki, fake_pe(0x8664, 0x20b, 10)).unwrap();
    let img = dir.join(name).display().to_string();
    let uki_spec = format!("linux/amd64={}", uki.display());
    build(&["--uki", &uki_spec, "--add", add, "-q", "-o", &img]);
    img
}

/// The names in `d`, sorted.
pub fn listing(d: &Path) -> Vec<String> {
    let mut v: Vec<_> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Runs `bin` in a case directory `dir` and expects a refusal: exit code 1, exactly
/// "`tool`: error: `msg`" on stderr, and no file added to or removed from `dir` (no output, no
/// temporary file). Returns the output for further checks.
pub fn refused(
    (bin, tool): (&str, &str),
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    msg: &str,
) -> Output {
    let before = listing(dir);
    let o = run_bin(bin, args, env);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err, format!("{tool}: error: {msg}\n"));
    assert_eq!(listing(dir), before, "files left behind");
    o
}

/// Run an external tool; returns (success, stdout+stderr).
/// Reads `iso_path` out of `img` with xorriso (holes of at least 1 MiB kept sparse) into `to`,
/// panicking with xorriso's output when it fails: the reference reader of the ISO 9660 side.
pub fn xorriso_extract(img: &str, iso_path: &str, to: &Path) {
    let (ok, out) = tool(
        "xorriso",
        &[
            "-osirrox",
            "on:sparse=1m",
            "-indev",
            img,
            "-extract",
            iso_path,
            &to.display().to_string(),
        ],
    );
    assert!(ok, "{out}");
}

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

/// The text form of an on-disk GUID (16 bytes of `g`), as sgdisk prints it.
pub fn guid_text(g: &[u8]) -> String {
    cloud_boot_iso::gpt::guid_string(g.try_into().expect("a GUID is 16 bytes"))
}

/// Copies `esp_path` (e.g. `/EFI/BOOT/BOOTX64.EFI`) out of the image's ESP (GPT partition 2)
/// into `to` with mtools' mcopy.
pub fn esp_copy(image: &str, esp_path: &str, to: &Path) {
    let (first, _, _) = gpt_partition(Path::new(image), 2);
    let (ok, out) = tool(
        "mcopy",
        &[
            "-n",
            "-i",
            &format!("{image}@@{}", first * 512),
            &format!("::{esp_path}"),
            &to.display().to_string(),
        ],
    );
    assert!(ok, "mcopy {esp_path}: {out}");
}

/// `pectl verify --cert CERT FILE` in-process: whether FILE carries a signature by CERT (or one
/// it issued) that matches its bytes.
pub fn verifies_with(file: &Path, cert: &Path) -> bool {
    pectl::run([
        "pectl".as_ref(),
        "verify".as_ref(),
        "--cert".as_ref(),
        cert.as_os_str(),
        file.as_os_str(),
    ])
    .is_ok()
}

/// Copy GPT partition `n` out of the image into its own file (for fsck.fat).
pub fn extract_partition(image: &Path, n: usize, to: &Path) {
    let (first, last, _) = gpt_partition(image, n);
    let data = read_at(image, first * 512, ((last - first + 1) * 512) as usize);
    fs::write(to, data).unwrap();
}

/// The image's ESP (GPT partition 2) copied to `<dir>/esp.img` and checked by `fsck.fat -n`:
/// nothing it would delete, rename or repair. Returns the copy's path and fsck.fat's output.
pub fn fsck_esp(image: &Path, dir: &Path) -> (String, String) {
    let part = dir.join("esp.img");
    extract_partition(image, 2, &part);
    let p = part.display().to_string();
    let (ok, out) = tool("fsck.fat", &["-n", "-v", &p]);
    assert!(ok, "fsck.fat -n failed:\n{out}");
    assert!(
        !out.contains("Deleting") && !out.contains("Renamed") && !out.contains("differ"),
        "{out}"
    );
    (p, out)
}

/// Where fixtures built once per test binary live (kept between runs, overwritten each time).
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cloud-boot-iso")
        .join(name);
    fs::create_dir_all(&d).unwrap();
    d
}

/// SHA-256 of the logical content: size, then every non-zero 64 KiB-aligned block with its
/// offset. Blocks wholly in holes (SEEK_HOLE) are zero by definition and are not read, so two
/// files with the same bytes have the same digest however their holes are laid out.
pub fn content_digest(path: &Path) -> [u8; 32] {
    const B: u64 = 64 << 10;
    let f = fs::File::open(path).unwrap();
    let len = f.metadata().unwrap().len();
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(len.to_le_bytes());
    let mut buf = vec![0u8; B as usize];
    let mut next_block = 0u64;
    while next_block * B < len {
        // SAFETY: lseek on a valid fd; no memory passed.
        let data = unsafe {
            libc::lseek(
                std::os::unix::io::AsRawFd::as_raw_fd(&f),
                (next_block * B) as i64,
                libc::SEEK_DATA,
            )
        };
        if data < 0 {
            break; // only a hole remains
        }
        let hole = unsafe {
            libc::lseek(
                std::os::unix::io::AsRawFd::as_raw_fd(&f),
                data,
                libc::SEEK_HOLE,
            )
        } as u64;
        let last = hole.min(len).div_ceil(B);
        for blk in (data as u64 / B).max(next_block)..last {
            let pos = blk * B;
            let n = (len - pos).min(B) as usize;
            f.read_exact_at(&mut buf[..n], pos).unwrap();
            if buf[..n].iter().any(|&b| b != 0) {
                h.update(pos.to_le_bytes());
                h.update(&buf[..n]);
            }
        }
        next_block = last;
    }
    h.finalize().into()
}

// ---------------------------------------------------------------------------------------------
// QEMU
// ---------------------------------------------------------------------------------------------

/// How a test attaches the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Cd,
    Disk,
}

const BANNER: &str = "UEFI Interactive Shell v";

/// Boot `image` on `arch` from `media` until the UEFI Shell has printed its banner and mapping
/// table and starts its startup.nsh countdown, QEMU exits, or `timeout`. `None` when QEMU or
/// firmware is missing outside CI.
pub fn boot(name: &str, media: Media, image: &Path, timeout: Duration) -> Option<BootResult> {
    let arch = arch(name);
    skip_unless(peln_tests::check_needs(arch, &[peln_tests::Need::Qemu]))?;
    let media = match media {
        Media::Cd => peln_tests::Media::Cdrom(image.to_path_buf()),
        Media::Disk => peln_tests::Media::Disk(image.to_path_buf()),
    };
    let opts = BootOpts {
        timeout,
        ..BootOpts::stop_when("Press ESC in")
    };
    Some(peln_tests::boot(arch, &media, opts))
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
pub fn assert_shell_from_media(arch: &str, media: Media, b: &BootResult, expect_in_fs0: &str) {
    let t = &b.serial;
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
