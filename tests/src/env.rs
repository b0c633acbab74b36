//! Tool and firmware discovery, and the single skip-or-fail policy.
use crate::Arch;
use std::path::{Path, PathBuf};

/// clang used for all C test programs.
pub const CLANG: &str = "clang-19";
/// Reference PE linker.
pub const LLD_LINK: &str = "lld-link-19";
/// ELF linker (fixed-address reference for ELF inputs).
pub const LD_LLD: &str = "ld.lld-19";
/// Archiver.
pub const LLVM_AR: &str = "llvm-ar-19";
/// Object dumper (used for diagnostics only).
pub const LLVM_READOBJ: &str = "llvm-readobj-19";

/// `path` if it exists, or why not: "<what> <path> missing (<fix>)".
pub fn present(path: PathBuf, what: &str, fix: &str) -> Result<PathBuf, String> {
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{what} {} missing ({fix})", path.display()))
    }
}

/// Ok when every check is; otherwise all their errors, joined.
pub fn all_ok(checks: impl IntoIterator<Item = Result<(), String>>) -> Result<(), String> {
    let missing: Vec<String> = checks.into_iter().filter_map(Result::err).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing.join("; "))
    }
}

/// How to get the firmware files, for messages.
const FW_FIX: &str = "set PELN_FW_DIR or run scripts/setup-test-env.sh";

/// Finds an executable on `PATH` (or returns `name` itself when it is a path to an executable file).
pub fn tool(name: &str) -> Option<PathBuf> {
    let is_exe = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_exe(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_exe(p))
}

/// Like [`tool`], but a missing tool is a descriptive error.
pub fn need_tool(name: &str) -> Result<PathBuf, String> {
    tool(name).ok_or_else(|| {
        format!("`{name}` not found on PATH (install with scripts/setup-test-env.sh)")
    })
}

/// The repository root (parent of the `tests` crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Where `scripts/setup-test-env.sh` caches downloads: `$PELN_CACHE_DIR`, default
/// `$HOME/.cache/peln`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PELN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/peln")
}

/// The firmware unpack directory: `$PELN_FW_DIR`, default `<cache_dir>/fw` (as the setup script).
pub fn fw_dir() -> PathBuf {
    match std::env::var_os("PELN_FW_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => cache_dir().join("fw"),
    }
}

/// edk2 firmware of one arch.
#[derive(Clone, Debug)]
pub struct Firmware {
    /// Read-only code flash image.
    pub code: PathBuf,
    /// Variable store template (copied per boot, never written).
    pub vars_template: PathBuf,
}

/// The firmware files of `arch`, or an error naming the missing file.
pub fn firmware(arch: Arch) -> Result<Firmware, String> {
    let dir = fw_dir();
    let (code, vars) = arch.firmware_rel_paths();
    let fw = Firmware {
        code: dir.join(code),
        vars_template: dir.join(vars),
    };
    for f in [&fw.code, &fw.vars_template] {
        present(f.clone(), &format!("{arch} firmware"), FW_FIX)?;
    }
    Ok(fw)
}

/// edk2's Secure Boot build of one arch and the snakeoil key pair its default varstore trusts.
#[derive(Clone, Debug)]
pub struct SecureBootFirmware {
    /// Read-only code flash image (the `secboot` build: refuses images db does not allow).
    pub code: PathBuf,
    /// Variable store template with Debian's snakeoil certificate as PK, KEK and db.
    pub snakeoil_vars: PathBuf,
    /// Debian's snakeoil private key (encrypted PKCS#8, password [`SNAKEOIL_PASSWORD`]).
    pub snakeoil_key: PathBuf,
    /// Debian's snakeoil certificate (PEM).
    pub snakeoil_cert: PathBuf,
}

/// The password of Debian's `PkKek-1-snakeoil.key` (the ovmf package's README.Debian).
pub const SNAKEOIL_PASSWORD: &str = "snakeoil";

/// The Secure Boot firmware files of `arch`, or an error naming the arch without such a build or
/// the missing file.
pub fn secure_boot_firmware(arch: Arch) -> Result<SecureBootFirmware, String> {
    let (code, vars, keys) = arch
        .secure_boot_rel_paths()
        .ok_or_else(|| format!("Debian's edk2 for {arch} is built without Secure Boot"))?;
    let dir = fw_dir();
    let fw = SecureBootFirmware {
        code: dir.join(code),
        snakeoil_vars: dir.join(vars),
        snakeoil_key: dir.join(keys).join("PkKek-1-snakeoil.key"),
        snakeoil_cert: dir.join(keys).join("PkKek-1-snakeoil.pem"),
    };
    for f in [
        &fw.code,
        &fw.snakeoil_vars,
        &fw.snakeoil_key,
        &fw.snakeoil_cert,
    ] {
        present(
            f.clone(),
            &format!("{arch} Secure Boot firmware file"),
            FW_FIX,
        )?;
    }
    Ok(fw)
}

/// Debian's U-Boot image of `arch`, or an error naming the missing file (or the arch U-Boot does
/// not support).
pub fn uboot(arch: Arch) -> Result<PathBuf, String> {
    let rel = arch
        .uboot_rel_path()
        .ok_or_else(|| format!("Debian's u-boot-qemu has no {arch} build"))?;
    present(fw_dir().join(rel), &format!("{arch} U-Boot"), FW_FIX)
}

/// Whether we run under CI (`CI` set to anything but empty, `0` or `false`): missing tools fail tests.
pub fn is_ci() -> bool {
    match std::env::var("CI") {
        Ok(v) => !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")),
        Err(_) => false,
    }
}

/// THE skip policy: under CI, panics (the test fails); otherwise prints `skipped: <why>` to stderr.
/// The caller then returns early.
pub fn skip_or_fail(why: &str) {
    if is_ci() {
        panic!("required test environment missing (CI is set, so this is a failure, not a skip): {why}");
    }
    eprintln!("skipped: {why}");
}

/// Applies [`skip_or_fail`] to an error and turns the requirement into an `Option`
/// (for helpers that cannot `return` from the test themselves).
pub fn skip_unless<T>(req: impl Requirement<T>) -> Option<T> {
    match req.check() {
        Ok(v) => Some(v),
        Err(why) => {
            skip_or_fail(&why);
            None
        }
    }
}

/// Something a test needs, convertible to `Result<T, reason>`. Used by [`crate::require!`].
pub trait Requirement<T> {
    fn check(self) -> Result<T, String>;
}

impl<T> Requirement<T> for Option<T> {
    fn check(self) -> Result<T, String> {
        self.ok_or_else(|| "not available".to_string())
    }
}

impl<T, E: std::fmt::Display> Requirement<T> for Result<T, E> {
    fn check(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

impl Requirement<()> for bool {
    fn check(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("condition not met".to_string())
        }
    }
}

/// A piece of the test environment, for [`check_needs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// clang-19
    Clang,
    /// llvm-ar-19
    LlvmAr,
    /// lld-link-19 (and that it supports the arch)
    LldLink,
    /// QEMU for the arch and its edk2 firmware
    Qemu,
    /// QEMU for the arch and its U-Boot firmware
    QemuUBoot,
    /// rustc with the arch's UEFI target installed (libcore/libcompiler_builtins rlibs present)
    RustUefi,
    /// ld.lld-19 and a GNU objcopy with the arch's PE target (see [`crate::link::link_elf_fixed_reference`])
    ElfFixedReference,
}

/// Checks all `needs` for `arch`; the error lists everything that is missing.
pub fn check_needs(arch: Arch, needs: &[Need]) -> Result<(), String> {
    all_ok(needs.iter().map(|need| {
        match need {
            Need::Clang => need_tool(CLANG).map(drop),
            Need::LlvmAr => need_tool(LLVM_AR).map(drop),
            Need::LldLink => match arch.lld_link_machine() {
                Some(_) => need_tool(LLD_LINK).map(drop),
                None => Err(format!("lld-link cannot link {arch}")),
            },
            Need::Qemu => need_tool(arch.qemu_binary())
                .and_then(|_| firmware(arch))
                .map(drop),
            Need::QemuUBoot => need_tool(arch.qemu_binary())
                .and_then(|_| uboot(arch))
                .map(drop),
            Need::RustUefi => crate::rust::sysroot_rlibs(arch).map(drop),
            Need::ElfFixedReference => need_tool(LD_LLD)
                .and_then(|_| crate::link::pei_objcopy(arch))
                .map(drop),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_convert_options_results_and_bools() {
        assert_eq!(Some(3).check(), Ok(3));
        assert!(None::<u8>.check().is_err());
        assert_eq!(Err::<u8, _>("no qemu").check(), Err("no qemu".to_string()));
        assert_eq!(true.check(), Ok(()));
        assert!(false.check().is_err());
    }

    #[test]
    fn tool_finds_sh_on_path_and_not_a_made_up_name() {
        assert!(tool("sh").is_some());
        assert!(tool("peln-no-such-tool-xyz").is_none());
        assert!(need_tool("peln-no-such-tool-xyz")
            .unwrap_err()
            .contains("peln-no-such-tool-xyz"));
    }
}
