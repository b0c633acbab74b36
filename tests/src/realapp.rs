//! The real Rust UEFI program (tests/programs/realapp: `uefi` + `serde` + `serde_json` from
//! crates.io) built by `cargo build` with pectl as rustc's linker, the way a user would call it.
//!
//! Builds go to persistent target dirs under the workspace's `target/peln-realapp/` (one per
//! linker), so a second test run rebuilds nothing; builds run one at a time (they are CPU-bound
//! and the machine has two cores).
use crate::cc::run_checked;
use crate::env::{need_tool, repo_root};
use crate::link::pectl_exe;
use crate::Arch;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The line every correct build prints, on every arch and with every linker.
pub const REALAPP_LINE: &str = "PELN realapp: n=200 bytes=31670 ids=19900 fnv=8824f6a67ecda284";
/// The program's own verdict (it compares its results with what it expects).
pub const REALAPP_PASS: &str = "PELN REALAPP RESULT: PASS";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Release,
    Debug,
}

impl Profile {
    fn dir(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Debug => "debug",
        }
    }
}

/// Who links the program and how cargo is told.
#[derive(Clone, Copy, Debug)]
pub enum Linker {
    /// `RUSTFLAGS="-C linker=<pectl>"`: rustc calls it with `-flavor link|gnu`.
    PectlFlag,
    /// `.cargo/config.toml` with `[target.<triple>] linker = "pectl"` and pectl on `PATH`.
    PectlConfig,
    /// rustc's default (rust-lld for the UEFI targets).
    Default,
}

impl Linker {
    fn name(&self) -> &'static str {
        match self {
            Linker::PectlFlag => "pectl-flag",
            Linker::PectlConfig => "pectl-config",
            Linker::Default => "default",
        }
    }
}

/// The Rust target the program is built for: the arch's own ([`Arch::rust_uefi_target`]), or
/// for loongarch64, which has none, the bare-metal ELF target (pectl writes a PE image anyway).
pub fn rust_target(arch: Arch) -> &'static str {
    arch.rust_uefi_target()
        .unwrap_or("loongarch64-unknown-none")
}

/// rustup ships no `loongarch64-unknown-none` std: core and alloc are built from rust-src.
fn needs_build_std(arch: Arch) -> bool {
    arch == Arch::Loongarch64
}

/// Where the workspace's build output goes (`$CARGO_TARGET_DIR` or `<repo>/target`).
fn workspace_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

pub fn realapp_dir() -> PathBuf {
    repo_root().join("tests/programs/realapp")
}

/// Builds the program with `cargo build --locked` and returns the linked file (for the ELF
/// targets, the ELF-named output, which pectl wrote as a PE image). Panics with cargo's output
/// if the build fails.
pub fn build_realapp(arch: Arch, profile: Profile, linker: &Linker) -> PathBuf {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let target = rust_target(arch);
    // One target dir per linker, shared by the arches: the host's proc-macros (serde_derive,
    // syn) are built once per profile instead of once per arch.
    let target_dir = workspace_target_dir()
        .join("peln-realapp")
        .join(linker.name());
    let name = if target.ends_with("-uefi") {
        "peln-realapp.efi"
    } else {
        "peln-realapp"
    };
    let output = target_dir.join(target).join(profile.dir()).join(name);
    let cargo = need_tool("cargo").unwrap_or_else(|e| panic!("{e}"));
    if !matches!(linker, Linker::Default) {
        relink_if_pectl_changed(&cargo, &target_dir, target, profile, &output);
    }
    let mut cmd = Command::new(cargo);
    // Nothing from the test's own cargo run may leak into the program's build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "CARGO_MANIFEST_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.arg("build")
        .arg("--locked")
        .arg("--manifest-path")
        .arg(realapp_dir().join("Cargo.toml"))
        .args(["--target", target])
        .arg("--target-dir")
        .arg(&target_dir);
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    if needs_build_std(arch) {
        cmd.env("RUSTC_BOOTSTRAP", "1")
            .args(["-Zbuild-std=core,alloc"]);
    }
    // rustc asks lld-link for /OPT:REF,ICF in release; the ELF targets' GNU-style line has no
    // ICF option, so release builds ask for it as ld.lld users do.
    let icf = (profile == Profile::Release && !target.ends_with("-uefi"))
        .then_some("-C link-arg=--icf=all");
    match linker {
        Linker::PectlFlag => {
            let pectl = pectl_exe().unwrap_or_else(|e| panic!("{e}"));
            let mut flags = OsString::from("-C linker=");
            flags.push(pectl);
            if let Some(icf) = icf {
                flags.push(" ");
                flags.push(icf);
            }
            cmd.env("RUSTFLAGS", flags);
        }
        Linker::PectlConfig => {
            let pectl = pectl_exe().unwrap_or_else(|e| panic!("{e}"));
            // The README's recipe, verbatim: cargo reads it from the directory it runs in.
            let dir = target_dir.join("cwd");
            std::fs::create_dir_all(dir.join(".cargo")).unwrap();
            std::fs::write(dir.join(".cargo/config.toml"), config_toml(target)).unwrap();
            let mut path = OsString::from(pectl.parent().unwrap());
            path.push(":");
            path.push(std::env::var_os("PATH").unwrap_or_default());
            cmd.current_dir(dir).env("PATH", path);
            if let Some(icf) = icf {
                let var = format!(
                    "CARGO_TARGET_{}_RUSTFLAGS",
                    target.to_uppercase().replace('-', "_")
                );
                cmd.env(var, icf);
            }
        }
        Linker::Default => {}
    }
    run_checked(
        &mut cmd,
        &format!("cargo build of the real app for {target} ({profile:?}, {linker:?})"),
    );
    output
}

/// cargo fingerprints the linker's path, not its contents: after pectl changes, drop the
/// program's own crate (not its dependencies) so cargo links it again with the new pectl.
fn relink_if_pectl_changed(
    cargo: &Path,
    target_dir: &Path,
    target: &str,
    profile: Profile,
    output: &Path,
) {
    let mtime = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let pectl = pectl_exe().unwrap_or_else(|e| panic!("{e}"));
    let (Some(linked), Some(built)) = (mtime(output), mtime(&pectl)) else {
        return;
    };
    if built <= linked {
        return;
    }
    let mut cmd = Command::new(cargo);
    cmd.args(["clean", "-p", "peln-realapp", "--target", target])
        .arg("--manifest-path")
        .arg(realapp_dir().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    run_checked(&mut cmd, "cargo clean of the real app's own crate");
}

/// The `.cargo/config.toml` recipe of the README.
pub fn config_toml(target: &str) -> String {
    format!("[target.{target}]\nlinker = \"pectl\"\n")
}

/// Asserts the boot printed the expected line and the program's PASS, then shut down.
pub fn assert_realapp_passed(result: &crate::BootResult) {
    for line in [REALAPP_LINE, REALAPP_PASS] {
        assert!(
            result.serial.lines().any(|l| l.trim_end() == line),
            "missing line {line:?} from the real app\n{}",
            result.describe()
        );
    }
    result.assert_exited();
}

/// The Rust side of the build is there: the target's prebuilt std, or rust-src to build it.
pub fn check_rust_target(arch: Arch) -> Result<(), String> {
    if needs_build_std(arch) {
        crate::rust::rust_src().map(drop)
    } else {
        crate::rust::target_lib_dir(arch).map(drop)
    }
}
