//! The self-checking C test program (tests/programs/c): building it for an arch/variant, linking,
//! booting and asserting its output.
//!
//! Objects: `main ext weak strong support`; archive (in this member order):
//! `lib_helper lib_func lib_unused` — `lib_func` is referenced by main and itself pulls `lib_helper`;
//! `lib_unused` is referenced by nothing and must not be extracted (it would redefine `peln_ext_var`).
use crate::cc::{archive, compile_c, ObjFormat};
use crate::env::{check_needs, skip_unless, Need};
use crate::link::{link_elf_fixed_reference, link_with_lld, link_with_pectl, LinkOpts, PectlRun};
use crate::qemu::{boot_efi, BootResult};
use crate::work::WorkDir;
use crate::Arch;
use std::path::{Path, PathBuf};

/// The checks the C program runs, in order. Each prints `PELN check <name>: ok`.
pub const CHECKS: &[&str] = &[
    "fnptr-table",
    "data-ptrs",
    "jump-table",
    "strings",
    "extern",
    "archive",
    "weak",
    "static-local",
    "const64",
    "bss-large",
    "alignment",
];

/// C files linked as plain objects, in link order.
pub const OBJECT_SOURCES: &[&str] = &["main", "ext", "weak", "strong", "support"];
/// C files put into the archive, in member order.
pub const ARCHIVE_MEMBERS: &[&str] = &["lib_helper", "lib_func", "lib_unused"];

/// `tests/programs`.
pub fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("programs")
}

/// The final line of a passing run: `PELN RESULT: PASS 11/11`.
pub fn pass_line() -> String {
    format!("PELN RESULT: PASS {0}/{0}", CHECKS.len())
}

/// How the C program is compiled: object format plus extra clang flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variant {
    /// Short name used for directories and messages.
    pub name: String,
    pub format: ObjFormat,
    /// Added after the base flags of [`crate::cc::base_cflags`].
    pub cflags: Vec<String>,
}

impl Variant {
    /// COFF objects (amd64/arm64).
    pub fn coff() -> Variant {
        Variant {
            name: "coff".into(),
            format: ObjFormat::Coff,
            cflags: vec![],
        }
    }
    /// ELF objects with clang's default code generation for the `*-unknown-elf` triple.
    pub fn elf() -> Variant {
        Variant {
            name: "elf".into(),
            format: ObjFormat::Elf,
            cflags: vec![],
        }
    }
    /// ELF, `-fpie` (GOT-relative accesses to extern data).
    pub fn elf_pie() -> Variant {
        Variant {
            name: "elf-pie".into(),
            format: ObjFormat::Elf,
            cflags: vec!["-fpie".into()],
        }
    }
    /// ELF, `-fno-pic` (absolute addressing: R_X86_64_32/32S on amd64).
    pub fn elf_no_pic() -> Variant {
        Variant {
            name: "elf-nopic".into(),
            format: ObjFormat::Elf,
            cflags: vec!["-fno-pic".into()],
        }
    }
    /// Adds `-ffunction-sections -fdata-sections` (for `--gc-sections` tests).
    pub fn split_sections(self) -> Variant {
        self.with_cflags("sections", &["-ffunction-sections", "-fdata-sections"])
    }
    /// Adds clang flags; `tag` is appended to the name.
    pub fn with_cflags(mut self, tag: &str, flags: &[&str]) -> Variant {
        self.name = format!("{}-{tag}", self.name);
        self.cflags.extend(flags.iter().map(|s| s.to_string()));
        self
    }
}

/// A compiled C test program: link `inputs()` into an EFI application with entry `efi_main`.
#[derive(Clone, Debug)]
pub struct TestProgram {
    pub arch: Arch,
    pub variant: Variant,
    /// Plain objects, in link order.
    pub objects: Vec<PathBuf>,
    /// The archive (`libpeln.lib` / `libpeln.a`).
    pub archive: PathBuf,
}

impl TestProgram {
    /// Objects followed by the archive.
    pub fn inputs(&self) -> Vec<PathBuf> {
        let mut v = self.objects.clone();
        v.push(self.archive.clone());
        v
    }
}

/// Builds the program for `arch`/`variant` in a fresh work directory `<arch>-<variant>-<linker>`
/// (one per linker, so that their outputs never mix), links it into the arch's boot file with
/// `link(out, inputs)` and boots it.
fn link_and_boot(
    arch: Arch,
    variant: &Variant,
    linker: &str,
    link: impl FnOnce(&Path, &[PathBuf]) -> PathBuf,
) -> ProgramRun {
    let work = WorkDir::new(&format!("{arch}-{}-{linker}", variant.name));
    let program = build_test_program(arch, variant, &work.subdir("obj"));
    let efi = link(&work.join(arch.efi_boot_file()), &program.inputs());
    ProgramRun::boot(arch, work, program, efi)
}

/// Compiles the C program into `<work>/obj` and links it with pectl (`run`) and `opts` into
/// `<work>/<name>`; returns the image.
pub fn pectl_linked_program(
    run: impl PectlRun,
    arch: Arch,
    variant: &Variant,
    work: &WorkDir,
    name: &str,
    opts: &LinkOpts,
) -> PathBuf {
    let program = build_test_program(arch, variant, &work.subdir("obj"));
    link_with_pectl(run, arch, &work.join(name), &program.inputs(), opts)
}

/// Compiles the C program for `arch`/`variant` into `out_dir` (objects and archive). Needs clang-19
/// and llvm-ar-19; a compile error panics with clang's stderr.
pub fn build_test_program(arch: Arch, variant: &Variant, out_dir: &Path) -> TestProgram {
    let src = programs_dir().join("c");
    let flags: Vec<&str> = variant.cflags.iter().map(String::as_str).collect();
    let ext = variant.format.obj_ext();
    let compile = |name: &str| {
        let out = out_dir.join(format!("{name}.{ext}"));
        compile_c(
            arch,
            variant.format,
            &flags,
            &src.join(format!("{name}.c")),
            &out,
        );
        out
    };
    let objects: Vec<PathBuf> = OBJECT_SOURCES.iter().map(|n| compile(n)).collect();
    let members: Vec<PathBuf> = ARCHIVE_MEMBERS.iter().map(|n| compile(n)).collect();
    let lib = out_dir.join(format!("libpeln.{}", variant.format.lib_ext()));
    archive(&lib, &members);
    TestProgram {
        arch,
        variant: variant.clone(),
        objects,
        archive: lib,
    }
}

/// The lines of the serial output that start with `PELN ` (trimmed), in order.
pub fn peln_lines(serial: &str) -> Vec<String> {
    serial
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("PELN "))
        .map(String::from)
        .collect()
}

/// Asserts the C program ran to completion and passed: every `PELN check <name>: ok` line of
/// [`CHECKS`] in order, no `FAIL`, the exact `PELN RESULT: PASS n/n` line, and the guest shut down.
pub fn assert_program_passed(result: &BootResult) {
    let lines = peln_lines(&result.serial);
    let failed: Vec<&String> = lines.iter().filter(|l| l.contains("FAIL")).collect();
    assert!(
        failed.is_empty(),
        "the test program reported failures: {failed:?}\n{}",
        result.describe()
    );
    let expected: Vec<String> = CHECKS
        .iter()
        .map(|c| format!("PELN check {c}: ok"))
        .collect();
    let got: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("PELN check "))
        .cloned()
        .collect();
    assert_eq!(got, expected, "check lines differ\n{}", result.describe());
    assert!(
        lines.contains(&pass_line()),
        "missing {:?}\n{}",
        pass_line(),
        result.describe()
    );
    result.assert_exited();
}

/// Everything one C-program boot test produced (the work dir is kept if the test then fails).
pub struct ProgramRun {
    pub work: WorkDir,
    pub program: TestProgram,
    pub efi: PathBuf,
    pub boot: BootResult,
}

impl ProgramRun {
    /// Boots `efi` (the `program` linked, in `work`) and keeps all of it for the checks.
    fn boot(arch: Arch, work: WorkDir, program: TestProgram, efi: PathBuf) -> ProgramRun {
        let boot = boot_efi(arch, &efi);
        ProgramRun {
            work,
            program,
            efi,
            boot,
        }
    }
    /// [`assert_program_passed`] on the boot.
    pub fn assert_passed(&self) {
        assert_program_passed(&self.boot);
    }
    /// [`peln_lines`] of the boot.
    pub fn peln_lines(&self) -> Vec<String> {
        peln_lines(&self.boot.serial)
    }
}

fn needs_for(arch: Arch, variant: &Variant) -> Result<(), String> {
    if variant.format == ObjFormat::Coff && !arch.supports_coff() {
        panic!(
            "variant {} needs COFF objects, which LLVM 19 cannot produce for {arch}",
            variant.name
        );
    }
    check_needs(arch, &[Need::Clang, Need::LlvmAr, Need::Qemu])
}

/// Builds the C program, links it with our linker via `run` (pass `pectl::run`),
/// checks the PE headers edk2 relies on, and boots it. `None` when the environment is missing
/// (already reported as `skipped:`; under `CI` this panics instead).
pub fn c_program_with_pectl(
    run: impl PectlRun,
    arch: Arch,
    variant: &Variant,
    opts: &LinkOpts,
) -> Option<ProgramRun> {
    skip_unless(needs_for(arch, variant))?;
    Some(link_and_boot(arch, variant, "pectl", |out, inputs| {
        let efi = link_with_pectl(run, arch, out, inputs, opts);
        if opts.subsystem.is_none() {
            crate::pe::assert_uefi_image(&efi, arch, crate::pe::IMAGE_SUBSYSTEM_EFI_APPLICATION);
        }
        efi
    }))
}

/// [`c_program_with_pectl`], then [`ProgramRun::assert_passed`]: the whole of the plain boot
/// tests, which differ only in arch, variant and options. `None` when the environment is missing.
pub fn pectl_c_program_passes(
    run: impl PectlRun,
    arch: Arch,
    variant: &Variant,
    opts: &LinkOpts,
) -> Option<ProgramRun> {
    let program = c_program_with_pectl(run, arch, variant, opts)?;
    program.assert_passed();
    Some(program)
}

/// Links the program with `--gc-sections --icf=all --map`, boots it and asserts that it passed
/// and that the map shows `peln_ext_func_twin` (ext.c: the same code as `peln_ext_func`, defined
/// after it) folded into `peln_ext_func`, in lld's `--print-icf-sections` lines.
pub fn assert_icf_folds_the_twin(run: impl PectlRun, arch: Arch, variant: &Variant) {
    let maps = WorkDir::new(&format!("{arch}-{}-icf-map", variant.name));
    let map = maps.join("icf.map");
    let opts = LinkOpts {
        extra: vec!["--icf=all".into()],
        ..LinkOpts::default().gc_sections().map(&map)
    };
    let Some(program) = c_program_with_pectl(run, arch, variant, &opts) else {
        return;
    };
    program.assert_passed();
    let text = std::fs::read_to_string(&map).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let folded = lines.windows(2).any(|w| {
        w[0].starts_with("selected section ")
            && w[0].contains("peln_ext_func")
            && !w[0].contains("peln_ext_func_twin")
            && w[1].starts_with("  removing identical section ")
            && w[1].contains("peln_ext_func_twin")
    });
    assert!(folded, "the map does not show the twin folded:\n{text}");
}

/// The same COFF objects linked by lld-link-19 and by pectl (`run`) boot to identical `PELN`
/// lines, and both pass: lld-link is the reference our image must behave like, on every arch
/// lld-link supports.
pub fn assert_pectl_prints_what_lld_link_prints(run: impl PectlRun, arch: Arch) {
    let needs = [Need::Clang, Need::LlvmAr, Need::LldLink, Need::Qemu];
    if skip_unless(check_needs(arch, &needs)).is_none() {
        return;
    }
    let work = WorkDir::new(&format!("{arch}-crosscheck"));
    let program = build_test_program(arch, &Variant::coff(), &work.subdir("obj"));
    let boot_file = arch.efi_boot_file();
    let lld = link_with_lld(
        arch,
        &work.join("lld").join(boot_file),
        &program.inputs(),
        &[],
    );
    let ours = link_with_pectl(
        run,
        arch,
        &work.join("pectl").join(boot_file),
        &program.inputs(),
        &LinkOpts::default(),
    );
    crate::pe::assert_uefi_image(&ours, arch, crate::pe::IMAGE_SUBSYSTEM_EFI_APPLICATION);
    let lld_boot = boot_efi(arch, &lld);
    assert_program_passed(&lld_boot);
    let our_boot = boot_efi(arch, &ours);
    assert_eq!(
        peln_lines(&our_boot.serial),
        peln_lines(&lld_boot.serial),
        "pectl and lld-link images print different PELN lines\n{}",
        our_boot.describe()
    );
    assert_program_passed(&our_boot);
}

/// Builds the C program, links it with `lld-link-19` (the reference) and boots it. `None` when the
/// environment is missing (see [`c_program_with_pectl`]).
pub fn c_program_with_lld(arch: Arch, variant: &Variant, lld_extra: &[&str]) -> Option<ProgramRun> {
    skip_unless(needs_for(arch, variant).and_then(|_| check_needs(arch, &[Need::LldLink])))?;
    Some(link_and_boot(arch, variant, "lld", |out, inputs| {
        let efi = link_with_lld(arch, out, inputs, lld_extra);
        crate::pe::assert_uefi_image(&efi, arch, crate::pe::IMAGE_SUBSYSTEM_EFI_APPLICATION);
        efi
    }))
}

/// Builds the C program as ELF, links it at a fixed address with ld.lld + objcopy (see
/// [`link_elf_fixed_reference`]) and boots it: the reference for ELF variants. `None` when the
/// environment is missing.
pub fn c_program_with_elf_reference(
    arch: Arch,
    variant: &Variant,
    image_base: u64,
) -> Option<ProgramRun> {
    assert_eq!(
        variant.format,
        ObjFormat::Elf,
        "the fixed-address reference links ELF objects"
    );
    skip_unless(
        needs_for(arch, variant).and_then(|_| check_needs(arch, &[Need::ElfFixedReference])),
    )?;
    Some(link_and_boot(arch, variant, "elfref", |out, inputs| {
        link_elf_fixed_reference(arch, out, inputs, image_base)
    }))
}
