//! Linking: argv for our `pectl link` (run in-process by the test crate, which has `pectl` as a
//! dev-dependency) and the `lld-link-19` reference linker.
use crate::cc::run_checked;
use crate::env::{need_tool, repo_root, LD_LLD, LLD_LINK};
use crate::Arch;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Options of `pectl link` (the ones tests use; `extra` is appended verbatim before the inputs).
#[derive(Clone, Debug, Default)]
pub struct LinkOpts {
    /// `--entry`; `None` means `efi_main`.
    pub entry: Option<String>,
    /// `--subsystem efi-application|efi-boot-service-driver|efi-runtime-driver`.
    pub subsystem: Option<String>,
    pub gc_sections: bool,
    /// `--map FILE`.
    pub map: Option<PathBuf>,
    /// `--image-base N` (rendered in hex).
    pub image_base: Option<u64>,
    pub allow_absolute32: bool,
    pub no_relax: bool,
    /// `-L DIR` each.
    pub lib_dirs: Vec<PathBuf>,
    /// `-l NAME` each.
    pub libs: Vec<String>,
    pub extra: Vec<OsString>,
}

impl LinkOpts {
    pub fn gc_sections(mut self) -> Self {
        self.gc_sections = true;
        self
    }
    pub fn image_base(mut self, base: u64) -> Self {
        self.image_base = Some(base);
        self
    }
    pub fn allow_absolute32(mut self) -> Self {
        self.allow_absolute32 = true;
        self
    }
    pub fn no_relax(mut self) -> Self {
        self.no_relax = true;
        self
    }
    pub fn entry(mut self, sym: &str) -> Self {
        self.entry = Some(sym.into());
        self
    }
    pub fn subsystem(mut self, s: &str) -> Self {
        self.subsystem = Some(s.into());
        self
    }
    pub fn map(mut self, path: impl Into<PathBuf>) -> Self {
        self.map = Some(path.into());
        self
    }
}

/// The full argv (argv[0] = "pectl") of `pectl link --machine <arch> -o <out> --entry <sym> ... inputs`.
pub fn pectl_link_args(
    arch: Arch,
    out: &Path,
    inputs: &[PathBuf],
    opts: &LinkOpts,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = ["pectl", "link", "--machine", arch.pectl_machine(), "-o"]
        .map(OsString::from)
        .into();
    a.push(out.into());
    a.push("--entry".into());
    a.push(opts.entry.as_deref().unwrap_or("efi_main").into());
    if let Some(s) = &opts.subsystem {
        a.push("--subsystem".into());
        a.push(s.into());
    }
    if opts.gc_sections {
        a.push("--gc-sections".into());
    }
    if let Some(m) = &opts.map {
        a.push("--map".into());
        a.push(m.into());
    }
    if let Some(b) = opts.image_base {
        a.push("--image-base".into());
        a.push(format!("{b:#x}").into());
    }
    if opts.allow_absolute32 {
        a.push("--allow-absolute32".into());
    }
    if opts.no_relax {
        a.push("--no-relax".into());
    }
    for d in &opts.lib_dirs {
        a.push("-L".into());
        a.push(d.into());
    }
    for l in &opts.libs {
        a.push("-l".into());
        a.push(l.into());
    }
    a.extend(opts.extra.iter().cloned());
    a.extend(inputs.iter().map(OsString::from));
    a
}

/// pectl's entry point, `pectl::run`, which the tests hand in: this crate cannot depend on
/// pectl, whose own tests use it. Every `FnOnce(argv) -> Result<(), impl Display>` is one.
pub trait PectlRun {
    /// Runs pectl on `argv` (argv[0] included); the error as its text.
    fn run_pectl(self, argv: Vec<OsString>) -> Result<(), String>;
}

impl<F, E> PectlRun for F
where
    F: FnOnce(Vec<OsString>) -> Result<(), E>,
    E: std::fmt::Display,
{
    fn run_pectl(self, argv: Vec<OsString>) -> Result<(), String> {
        self(argv).map_err(|e| e.to_string())
    }
}

/// Links with our linker through `run` (pass `pectl::run`), panicking with the error
/// and the argv if it fails. Returns `out`.
pub fn link_with_pectl(
    run: impl PectlRun,
    arch: Arch,
    out: &Path,
    inputs: &[PathBuf],
    opts: &LinkOpts,
) -> PathBuf {
    let argv = pectl_link_args(arch, out, inputs, opts);
    let shown: Vec<String> = argv
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    if let Err(e) = run.run_pectl(argv) {
        panic!("pectl link failed: {e}\nargv: {}", shown.join(" "));
    }
    assert!(
        out.is_file(),
        "pectl link succeeded but wrote no {}\nargv: {}",
        out.display(),
        shown.join(" ")
    );
    out.to_path_buf()
}

/// The pectl executable of this workspace, built (once per test process) by the same cargo in
/// the same profile as the running test.
pub fn pectl_exe() -> Result<PathBuf, String> {
    static EXE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    EXE.get_or_init(|| {
        // <target>/<profile>/deps/<test binary>
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .ok_or("test binary is not in <target>/<profile>/deps")?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(repo_root())
            .args(["build", "--locked", "-p", "pectl", "--bin", "pectl"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        run_checked(&mut cmd, "building the pectl executable");
        Ok(profile_dir.join("pectl"))
    })
    .clone()
}

/// A link named `name` (`lld-link`, `ld.lld`) to [`pectl_exe`] in `dir`: how toolchains that
/// choose their linker by name are pointed at pectl.
pub fn pectl_named(dir: &Path, name: &str) -> PathBuf {
    let exe = pectl_exe().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir).unwrap();
    let link = dir.join(name);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(exe, &link)
        .unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
    link
}

/// Links with `lld-link-19 /machine:<m> /subsystem:efi_application /entry:efi_main /nodefaultlib
/// /out:OUT <extra> inputs` (the reference). Panics with lld-link's output on failure. Returns `out`.
/// `extra` may override the subsystem/entry (lld-link takes the last one).
pub fn link_with_lld(arch: Arch, out: &Path, inputs: &[PathBuf], extra: &[&str]) -> PathBuf {
    let lld = need_tool(LLD_LINK).unwrap_or_else(|e| panic!("{e}"));
    let machine = arch
        .lld_link_machine()
        .unwrap_or_else(|| panic!("lld-link cannot link {arch}"));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    let mut cmd = Command::new(lld);
    cmd.arg(format!("/machine:{machine}"))
        .arg("/subsystem:efi_application")
        .arg("/entry:efi_main")
        .arg("/nodefaultlib")
        .arg({
            let mut o = OsString::from("/out:");
            o.push(out);
            o
        })
        .args(extra)
        .args(inputs);
    run_checked(&mut cmd, "lld-link");
    out.to_path_buf()
}

/// BFD target name of the PE flavour for `objcopy -O` (binutils: bookworm's 2.40 has only
/// `pei-x86-64`; riscv64/loongarch64 need binutils >= 2.44, aarch64 >= 2.38 built with that target).
pub fn pei_bfd_target(arch: Arch) -> &'static str {
    match arch {
        Arch::Amd64 => "pei-x86-64",
        Arch::Arm64 => "pei-aarch64-little",
        Arch::Riscv64 => "pei-riscv64-little",
        Arch::Loongarch64 => "pei-loongarch64",
    }
}

/// The GNU objcopy used for the fixed-address ELF reference: `$PELN_PEI_OBJCOPY` or `objcopy`,
/// if it supports the arch's PE target.
pub fn pei_objcopy(arch: Arch) -> Result<PathBuf, String> {
    let name = std::env::var("PELN_PEI_OBJCOPY")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "objcopy".into());
    let path = need_tool(&name)?;
    let help = Command::new(&path)
        .arg("--help")
        .output()
        .map_err(|e| format!("{name}: {e}"))?;
    let target = pei_bfd_target(arch);
    if String::from_utf8_lossy(&help.stdout)
        .split_whitespace()
        .any(|w| w == target)
    {
        Ok(path)
    } else {
        Err(format!(
            "{} has no {target} target (set PELN_PEI_OBJCOPY to a binutils >= 2.44 objcopy)",
            path.display()
        ))
    }
}

/// Reference link for ELF inputs, without our linker: `ld.lld-19` with a linker script at the fixed
/// address `image_base + 0x1000`, then `objcopy -O <pei target> --image-base image_base`. The image
/// has no base relocations (RELOCS_STRIPPED), so edk2 must load it at `image_base` (0x10000000
/// works on amd64 with 512 MiB; TESTENV: 0x90000000 riscv64, 0xA0000000 loongarch64). Not a product
/// path: it tells a wrong program from a linker bug.
pub fn link_elf_fixed_reference(
    arch: Arch,
    out: &Path,
    inputs: &[PathBuf],
    image_base: u64,
) -> PathBuf {
    let ld = need_tool(LD_LLD).unwrap_or_else(|e| panic!("{e}"));
    let objcopy = pei_objcopy(arch).unwrap_or_else(|e| panic!("{e}"));
    let dir = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).ok();
    let script = dir.join("fixed.ld");
    let text = format!(
        "ENTRY(efi_main)\nSECTIONS {{\n  . = {:#x};\n  .text : {{ *(.text .text.*) }}\n  . = ALIGN(4096);\n  \
         .rodata : {{ *(.rodata .rodata.* .srodata .srodata.* .data.rel.ro .data.rel.ro.* .got .got.*) }}\n  \
         . = ALIGN(4096);\n  .data : {{ *(.data .data.* .sdata .sdata.*) }}\n  . = ALIGN(4096);\n  \
         .bss : {{ *(.sbss .sbss.* .bss .bss.* COMMON) }}\n}}\n",
        image_base + 0x1000
    );
    std::fs::write(&script, text).unwrap();
    let elf = out.with_extension("elf");
    let mut cmd = Command::new(ld);
    cmd.args(["-nostdlib", "-static", "--no-pie", "-T"])
        .arg(&script)
        .arg("-o")
        .arg(&elf)
        .args(inputs);
    run_checked(&mut cmd, "ld.lld (fixed-address ELF reference)");
    let mut cmd = Command::new(objcopy);
    cmd.args(["-O", pei_bfd_target(arch), "--subsystem", "efi-app"])
        .arg("--image-base")
        .arg(format!("{image_base:#x}"))
        .args(["-j", ".text", "-j", ".rodata", "-j", ".data", "-j", ".bss"])
        .arg(&elf)
        .arg(out);
    run_checked(&mut cmd, "objcopy to PE (fixed-address ELF reference)");
    out.to_path_buf()
}

/// EDK2's CLANGPDB RELEASE link options (tools_def.txt, `*_CLANGPDB_*_DLINK_FLAGS` plus the
/// RELEASE additions), in the order EDK2 passes them, for `/Machine:MACHINE` and `/SUBSYSTEM:SUBSYSTEM`.
pub fn edk2_clangpdb_release_options(machine: &str, subsystem: &str) -> Vec<String> {
    let mut v: Vec<String> = [
        "/NOLOGO",
        "/NODEFAULTLIB",
        "/IGNORE:4001",
        "/OPT:REF",
        "/OPT:ICF=10",
        "/ALIGN:4096",
        "/DRIVER",
        "/FILEALIGN:32",
    ]
    .map(String::from)
    .to_vec();
    v.push(format!("/Machine:{machine}"));
    v.push("/DLL".into());
    v.push("/ENTRY:efi_main".into());
    v.push(format!("/SUBSYSTEM:{subsystem}"));
    v.extend(
        [
            "/SAFESEH:NO",
            "/BASE:0",
            "/DEBUG:GHASH",
            "/MLLVM:-exception-model=wineh",
            "/lldmap",
            "/IGNORE:4254",
            "/SECTION:.xdata,D",
            "/SECTION:.pdata,D",
            "/MERGE:.rdata=.data",
        ]
        .map(String::from),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pectl_link_args_renders_every_option_before_the_inputs() {
        let opts = LinkOpts {
            subsystem: Some("efi-boot-service-driver".into()),
            lib_dirs: vec!["/l".into()],
            libs: vec!["peln".into()],
            ..LinkOpts::default()
        }
        .gc_sections()
        .image_base(0x1000_0000)
        .allow_absolute32()
        .no_relax()
        .map("/o.map");
        let argv = pectl_link_args(
            Arch::Riscv64,
            Path::new("/o.efi"),
            &["/a.o".into(), "/b.a".into()],
            &opts,
        );
        let s: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            s.join(" "),
            "pectl link --machine riscv64 -o /o.efi --entry efi_main --subsystem efi-boot-service-driver \
             --gc-sections --map /o.map --image-base 0x10000000 --allow-absolute32 --no-relax -L /l -l peln /a.o /b.a"
        );
    }
}
