//! The `#![no_std]` Rust UEFI hello (tests/programs/rust/hello.rs): compiled to one object with
//! rustc and linked against the sysroot's `libcore` and `libcompiler_builtins` rlibs.
use crate::cc::run_checked;
use crate::env::{check_needs, present, skip_unless, Need};
use crate::link::{link_with_pectl, LinkOpts, PectlRun};
use crate::qemu::boot_efi;
use crate::work::WorkDir;
use crate::Arch;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Lines the Rust hello prints when it works (each is asserted).
pub const RUST_HELLO_LINES: &[&str] = &[
    "PELN rust: hello from no_std",
    "PELN rust: fmt 12345 -42 0xdeadbeef [1, 2, 3]",
    "PELN rust: dyn 7 14 21",
    "PELN RUST RESULT: PASS",
];

/// `$RUSTC` or `rustc`.
pub fn rustc() -> PathBuf {
    std::env::var_os("RUSTC")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| "rustc".into())
}

/// `<sysroot>/lib/rustlib/<target>/lib` of the arch's UEFI target.
pub fn target_lib_dir(arch: Arch) -> Result<PathBuf, String> {
    let target = arch
        .rust_uefi_target()
        .ok_or_else(|| format!("rustc has no UEFI target for {arch}"))?;
    present(
        sysroot()?.join("lib/rustlib").join(target).join("lib"),
        &format!("rust target {target}:"),
        &format!("`rustup target add {target}`"),
    )
}

/// rustc's sysroot (`rustc --print sysroot`).
pub fn sysroot() -> Result<PathBuf, String> {
    let out = Command::new(rustc())
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rustc --print sysroot failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// `<sysroot>/lib/rustlib/src/rust/library`, if rustup's rust-src component is installed (what
/// `-Zbuild-std` builds from).
pub fn rust_src() -> Result<PathBuf, String> {
    let lib = sysroot()?.join("lib/rustlib/src/rust/library");
    present(
        lib.join("core/Cargo.toml"),
        "rust-src:",
        "`rustup component add rust-src`",
    )?;
    Ok(lib)
}

/// The `libcore-*.rlib` and `libcompiler_builtins-*.rlib` of the arch's UEFI target (in that order).
pub fn sysroot_rlibs(arch: Arch) -> Result<Vec<PathBuf>, String> {
    let dir = target_lib_dir(arch)?;
    let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let mut libs = Vec::new();
    for prefix in ["libcore-", "libcompiler_builtins-"] {
        let mut found: Vec<&PathBuf> = entries
            .iter()
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with(prefix) && n.ends_with(".rlib")
            })
            .collect();
        found.sort();
        match found.as_slice() {
            [one] => libs.push((*one).clone()),
            [] => return Err(format!("no {prefix}*.rlib in {}", dir.display())),
            many => {
                return Err(format!(
                    "several {prefix}*.rlib in {}: {many:?}",
                    dir.display()
                ))
            }
        }
    }
    Ok(libs)
}

/// Path of the Rust hello source.
pub fn hello_source() -> PathBuf {
    crate::program::programs_dir().join("rust/hello.rs")
}

/// Compiles the Rust hello to `out_dir/hello.o` (one codegen unit, `-O`, `panic=abort`) and returns
/// the object followed by the sysroot rlibs: the complete link inputs.
pub fn build_rust_hello(arch: Arch, out_dir: &Path) -> Vec<PathBuf> {
    let target = arch
        .rust_uefi_target()
        .unwrap_or_else(|| panic!("rustc has no UEFI target for {arch}"));
    std::fs::create_dir_all(out_dir).ok();
    let obj = out_dir.join("hello.o");
    let mut cmd = Command::new(rustc());
    cmd.args([
        "--edition",
        "2021",
        "--target",
        target,
        "--crate-type=lib",
        "--crate-name",
        "peln_hello",
    ])
    .args([
        "--emit=obj",
        "-C",
        "panic=abort",
        "-C",
        "opt-level=2",
        "-C",
        "codegen-units=1",
    ])
    .arg(hello_source())
    .arg("-o")
    .arg(&obj);
    run_checked(&mut cmd, "compiling the Rust hello");
    let mut inputs = vec![obj];
    inputs.extend(sysroot_rlibs(arch).unwrap_or_else(|e| panic!("{e}")));
    inputs
}

/// Asserts every line of [`RUST_HELLO_LINES`] appeared and the guest shut down.
pub fn assert_rust_hello_passed(result: &crate::BootResult) {
    for line in RUST_HELLO_LINES {
        assert!(
            result.serial.lines().any(|l| l.trim_end() == *line),
            "missing line {line:?} from the Rust hello\n{}",
            result.describe()
        );
    }
    result.assert_exited();
}

/// Builds the Rust hello, links it with `pectl link` (`run`) against the sysroot rlibs (archives
/// with a non-object `lib.rmeta` member; only the needed members may be pulled), checks the
/// image is a UEFI application for `arch` and boots it to every [`RUST_HELLO_LINES`] line: the
/// same test on each arch with a Rust target. Skips (fails under CI) without rustc's target or
/// QEMU.
pub fn assert_rust_hello_with_pectl_boots(run: impl PectlRun, arch: Arch) {
    if skip_unless(check_needs(arch, &[Need::RustUefi, Need::Qemu])).is_none() {
        return;
    }
    let work = WorkDir::new(&format!("{arch}-rust-hello"));
    let inputs = build_rust_hello(arch, &work.subdir("obj"));
    let efi = link_with_pectl(
        run,
        arch,
        &work.join(arch.efi_boot_file()),
        &inputs,
        &LinkOpts::default(),
    );
    crate::pe::assert_uefi_image(&efi, arch, crate::pe::IMAGE_SUBSYSTEM_EFI_APPLICATION);
    assert_rust_hello_passed(&boot_efi(arch, &efi));
}
