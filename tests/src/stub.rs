//! peln's own UKI stub (`stub/` + `arch-shims/<arch>.S`) and the handoff payload
//! (`tests/programs/handoff/handoff.c`) that shows what the stub handed over.
//!
//! The stub is compiled by `stub/build.sh <arch> <outdir>` — the one place that holds its compile
//! commands (the Taskfile calls it too) — and linked with
//! `pectl link --machine <arch> --entry efi_main -o stub.efi shim.o libpeln_stub.a`.
//!
//! ```ignore
//! require!(peln_tests::stub::check_stub_toolchain(arch));
//! let tgt = Path::new(env!("CARGO_TARGET_TMPDIR")).join("peln-stub");
//! let stub = peln_tests::stub::build_and_link_stub(pectl::run, arch, &work.subdir("stub"), &tgt);
//! ```
use crate::cc::{compile_c, run_checked, ObjFormat};
use crate::env::{all_ok, need_tool, repo_root, CLANG};
use crate::link::{link_with_pectl, LinkOpts, PectlRun};
use crate::qemu::BootResult;
use crate::Arch;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The stub's entry symbol (in the arch shim).
pub const STUB_ENTRY: &str = "efi_main";

/// `stub/build.sh`.
pub fn build_script() -> PathBuf {
    repo_root().join("stub/build.sh")
}

/// `tests/programs/handoff/handoff.c`.
pub fn handoff_source() -> PathBuf {
    crate::program::programs_dir().join("handoff/handoff.c")
}

/// What `stub/build.sh <arch>` needs: bash, cargo, clang-19 and the Rust target (rustup's prebuilt
/// one for amd64/arm64/riscv64; rust-src for loongarch64, whose core is built with -Zbuild-std).
pub fn check_stub_toolchain(arch: Arch) -> Result<(), String> {
    let target = match arch {
        Arch::Loongarch64 => crate::rust::rust_src().map(drop),
        _ => crate::rust::target_lib_dir(arch).map(drop),
    };
    all_ok(
        ["bash", "cargo", CLANG]
            .map(|t| need_tool(t).map(drop))
            .into_iter()
            .chain([target]),
    )
}

/// The two link inputs `stub/build.sh` writes.
#[derive(Clone, Debug)]
pub struct StubParts {
    /// `<outdir>/shim.o`: the arch shim (`efi_main`).
    pub shim: PathBuf,
    /// `<outdir>/libpeln_stub.a`: the Rust staticlib (`stub_main`, core, compiler_builtins).
    pub lib: PathBuf,
}

/// Runs `stub/build.sh <arch> <out_dir>` with `CARGO_TARGET_DIR=<cargo_target_dir>` (use a
/// directory of your own, e.g. under `CARGO_TARGET_TMPDIR`: never the target dir of the running
/// `cargo test`). Panics with the script's output if it fails.
pub fn build_stub(arch: Arch, out_dir: &Path, cargo_target_dir: &Path) -> StubParts {
    let mut cmd = Command::new("bash");
    cmd.arg(build_script())
        .arg(arch.pectl_machine())
        .arg(out_dir)
        .env("CARGO_TARGET_DIR", cargo_target_dir);
    run_checked(&mut cmd, &format!("building the peln stub for {arch}"));
    let parts = StubParts {
        shim: out_dir.join("shim.o"),
        lib: out_dir.join("libpeln_stub.a"),
    };
    for f in [&parts.shim, &parts.lib] {
        assert!(f.is_file(), "stub/build.sh wrote no {}", f.display());
    }
    parts
}

/// [`build_stub`], then `pectl link --machine <arch> --entry efi_main -o <out_dir>/stub.efi
/// shim.o libpeln_stub.a` through `run` (pass `pectl::run`). Returns the image.
pub fn build_and_link_stub(
    run: impl PectlRun,
    arch: Arch,
    out_dir: &Path,
    cargo_target_dir: &Path,
) -> PathBuf {
    let parts = build_stub(arch, out_dir, cargo_target_dir);
    link_with_pectl(
        run,
        arch,
        &out_dir.join("stub.efi"),
        &[parts.shim, parts.lib],
        &LinkOpts::default().entry(STUB_ENTRY),
    )
}

/// What the Taskfile's `link-ARCH` and `uki-ARCH` make, in-process: the stub built and linked
/// into `<out_dir>/stub.efi`, then `pectl uki` over Debian's kernel
/// ([`crate::kernel::kernel_path`]) and `scripts/mkinitramfs.sh`'s initramfs with `cmdline`, into
/// `<out_dir>/uki.efi` (returned). Check [`check_stub_toolchain`], [`crate::kernel::kernel`] and
/// [`crate::kernel::check_initramfs_tools`] first.
pub fn build_kernel_uki(
    run: impl PectlRun + Copy,
    arch: Arch,
    out_dir: &Path,
    cargo_target_dir: &Path,
    cmdline: &str,
) -> PathBuf {
    let stub = build_and_link_stub(run, arch, out_dir, cargo_target_dir);
    let initrd = crate::kernel::build_initramfs(arch, out_dir);
    let uki = out_dir.join("uki.efi");
    let linux = crate::kernel::kernel_path(arch);
    let argv = uki_args(&stub, &linux, &[initrd], Some(cmdline), &uki);
    if let Err(e) = run.run_pectl(argv.clone()) {
        panic!("pectl uki failed: {e}\nargv: {argv:?}");
    }
    uki
}

/// Compiles the handoff payload with the C test program's flags (COFF on amd64/arm64, ELF on
/// riscv64/loongarch64) and links it with `pectl link` into `<out_dir>/handoff.efi`.
pub fn build_handoff(run: impl PectlRun, arch: Arch, out_dir: &Path) -> PathBuf {
    let format = if arch.supports_coff() {
        ObjFormat::Coff
    } else {
        ObjFormat::Elf
    };
    let obj = out_dir.join(format!("handoff.{}", format.obj_ext()));
    compile_c(arch, format, &[], &handoff_source(), &obj);
    link_with_pectl(
        run,
        arch,
        &out_dir.join("handoff.efi"),
        &[obj],
        &LinkOpts::default(),
    )
}

/// argv (with argv[0]) of `pectl uki --stub S --linux L [--initrd I]... [--cmdline C] -o OUT`.
pub fn uki_args(
    stub: &Path,
    linux: &Path,
    initrds: &[PathBuf],
    cmdline: Option<&str>,
    out: &Path,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["pectl".into(), "uki".into()];
    a.extend(["--stub".into(), stub.into(), "--linux".into(), linux.into()]);
    for i in initrds {
        a.extend(["--initrd".into(), i.into()]);
    }
    if let Some(c) = cmdline {
        a.extend(["--cmdline".into(), c.into()]);
    }
    a.extend(["-o".into(), out.into()]);
    a
}

/// The `.initrd` ukify (and `pectl uki`) make of several initrds: each padded with zeros to a
/// multiple of 4 bytes; a single one as it is.
pub fn joined_initrds(initrds: &[Vec<u8>]) -> Vec<u8> {
    if let [one] = initrds {
        return one.clone();
    }
    let mut v = Vec::new();
    for i in initrds {
        v.extend_from_slice(i);
        v.resize(v.len().next_multiple_of(4), 0);
    }
    v
}

/// FNV-1a (32-bit), as the handoff payload prints it over the initrd.
pub fn fnv1a32(b: &[u8]) -> u32 {
    b.iter().fold(0x811c_9dc5, |h, &x| {
        (h ^ u32::from(x)).wrapping_mul(0x0100_0193)
    })
}

/// The serial output with its line breaks removed: firmware consoles wrap long lines (riscv64's at
/// 80 columns), so a line is matched in this, with the next line's start right after it.
pub fn unwrapped(serial: &str) -> String {
    serial.replace('\n', "")
}

/// The stub's banner line: `peln-stub <arch>: linux <N> bytes, initrd <M> bytes, cmdline "<text>"`.
pub fn banner(arch: Arch, linux_len: usize, initrd_len: usize, cmdline: &str) -> String {
    format!("peln-stub {arch}: linux {linux_len} bytes, initrd {initrd_len} bytes, cmdline \"{cmdline}\"")
}

/// Asserts the handoff payload saw `cmdline` as its LoadOptions (exactly, NUL-terminated UCS-2)
/// and read `initrd` through the stub's LoadFile2 (size, first 16 bytes and a hash of all), that
/// the LoadFile2 argument checks passed, and that it shut the machine down.
pub fn assert_handoff(r: &BootResult, cmdline: &str, initrd: &[u8]) {
    let flat = unwrapped(&r.serial);
    let utf16 = cmdline.encode_utf16().count();
    let first: Vec<String> = initrd
        .iter()
        .take(16)
        .map(|b| format!(" {b:02x}"))
        .collect();
    for want in [
        format!(
            "HANDOFF cmdline: {cmdline}HANDOFF cmdline bytes: {}HANDOFF",
            2 * (utf16 + 1)
        ),
        "HANDOFF loadfile2 checks: okHANDOFF".to_string(),
        format!(
            "HANDOFF initrd: {} bytes, first 16:{}HANDOFF initrd fnv1a32: {:#010x}HANDOFF done",
            initrd.len(),
            first.concat(),
            fnv1a32(initrd)
        ),
    ] {
        assert!(
            flat.contains(&want),
            "expected {want:?} (line breaks removed)\n{}",
            r.describe()
        );
    }
    assert!(!r.serial.contains("HANDOFF error"), "{}", r.describe());
    r.assert_exited();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initrds_are_joined_with_four_byte_padding() {
        assert_eq!(joined_initrds(&[vec![1; 5]]), vec![1; 5]);
        let j = joined_initrds(&[vec![1; 5], vec![2; 301]]);
        assert_eq!(j.len(), 8 + 304);
        assert_eq!(&j[..9], &[1, 1, 1, 1, 1, 0, 0, 0, 2]);
        assert_eq!(&j[309..], &[0, 0, 0]);
    }

    #[test]
    fn fnv1a32_matches_reference_values() {
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn uki_args_render_the_pectl_uki_command_line() {
        let a = uki_args(
            Path::new("s.efi"),
            Path::new("k.efi"),
            &["a".into(), "b".into()],
            Some("x=1"),
            Path::new("u.efi"),
        );
        let s: Vec<String> = a.iter().map(|x| x.to_string_lossy().into_owned()).collect();
        assert_eq!(
            s.join(" "),
            "pectl uki --stub s.efi --linux k.efi --initrd a --initrd b --cmdline x=1 -o u.efi"
        );
    }
}
