//! pectl called as toolchains call a linker: `-flavor link|gnu`, or through a link named
//! `lld-link`/`ld.lld`, with response files, without `--machine`. Inputs are committed fixtures
//! (see fixtures/regen.sh).
use std::path::PathBuf;
use std::process::Command;

mod common;
use common::{fixture, inspect};
use peln_tests::link::edk2_clangpdb_release_options;

struct Out {
    code: Option<i32>,
    stderr: String,
    dir: tempfile::TempDir,
}

impl Out {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn assert_ok(&self) {
        assert_eq!(self.code, Some(0), "stderr: {}", self.stderr);
    }

    /// Exit 1, the message, and nothing written.
    fn assert_fails(&self, expected: &str) {
        assert_eq!(self.code, Some(1), "stderr: {}", self.stderr);
        assert!(
            self.stderr.contains(expected),
            "missing {expected:?} in:\n{}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(!self.path("out.efi").exists(), "a failed link wrote output");
    }
}

/// Runs pectl under the program name `program` (a symlink to it in a fresh directory, which is
/// also the working directory) with `args`.
fn pectl_as(program: &str, args: &[&str]) -> Out {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join(program);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pectl"), &exe).unwrap();
    let out = Command::new(&exe)
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    Out {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        dir,
    }
}

fn f(name: &str) -> String {
    fixture(name).display().to_string()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn static_comdat_leaders_of_one_name_in_two_objects_are_both_kept() {
    let out = pectl_as(
        "pectl",
        &[
            "-flavor",
            "link",
            "/out:out.efi",
            "/entry:efi_main",
            "/subsystem:efi_application",
            &f("static-comdat-a.obj"),
            &f("static-comdat-b.obj"),
        ],
    );
    out.assert_ok();
    let image = std::fs::read(out.path("out.efi")).unwrap();
    // `mov $0x1111, %eax; ret` and `mov $0x2222, %eax; ret`: each object's own copy.
    let a = find(&image, b"\xb8\x11\x11\x00\x00\xc3").expect("a.obj's fmt_error");
    let b = find(&image, b"\xb8\x22\x22\x00\x00\xc3").expect("b.obj's fmt_error");
    // `other` (b.obj, `call fmt_error; ret`) must call b.obj's copy: find its call by the
    // displacement that lands there.
    let calls_b = (0..image.len() - 5).any(|at| {
        image[at] == 0xe8 && image[at + 5] == 0xc3 && {
            let rel = i32::from_le_bytes(image[at + 1..at + 5].try_into().unwrap());
            (at as i64 + 5 + i64::from(rel)) as usize == b
        }
    });
    assert!(calls_b, "b.obj's call must bind to b.obj's static copy");
    assert_ne!(a, b);
}

#[test]
fn lld_link_name_with_utf16_response_file_and_machine_from_the_object() {
    let dir = tempfile::tempdir().unwrap();
    let rsp = dir.path().join("linker-arguments");
    let text = format!(
        "\"/NOLOGO\"\n\"/entry:efi_main\"\n\"/subsystem:efi_application\"\n\"{}\"\n\
         \"/NXCOMPAT\"\n\"/OUT:out.efi\"\n\"/OPT:REF,ICF\"\n\"/DEBUG\"\n\"/PDBALTPATH:%_PDB%\"\n\
         \"/NODEFAULTLIB\"\n",
        f("hello-coff.obj")
    );
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&rsp, bytes).unwrap();
    let out = pectl_as("lld-link", &[&format!("@{}", rsp.display())]);
    out.assert_ok();
    let text = inspect(&out.path("out.efi"));
    assert!(text.contains("machine: 0x8664 (amd64)"), "{text}");
}

#[test]
fn ld_lld_name_takes_gnu_arguments_and_msvc_ones() {
    let out = pectl_as(
        "ld.lld",
        &[
            &f("hello-elf.o"),
            "-Bstatic",
            "-X",
            "-o",
            "out.efi",
            "--gc-sections",
        ],
    );
    out.assert_ok();
    assert!(inspect(&out.path("out.efi")).contains("machine: 0x8664 (amd64)"));
    // rustc sends lld-link arguments, without -flavor, to a linker named ld.lld.
    let out = pectl_as(
        "ld.lld",
        &[
            "/NOLOGO",
            "/entry:efi_main",
            &f("hello-arm64.obj"),
            "/OUT:out.efi",
        ],
    );
    out.assert_ok();
    assert!(inspect(&out.path("out.efi")).contains("machine: 0xaa64 (arm64)"));
}

#[test]
fn edk2_options_merge_rdata_into_data_align_files_to_32_and_write_an_lldmap() {
    let mut args = vec!["/OUT:out.efi".to_string()];
    args.extend(edk2_clangpdb_release_options(
        "X64",
        "EFI_BOOT_SERVICE_DRIVER",
    ));
    args.extend(["/WX".to_string(), f("hello-coff.obj")]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = pectl_as("lld-link", &args);
    out.assert_ok();
    let text = inspect(&out.path("out.efi"));
    for expected in [
        "image-base: 0x0\n",
        "alignment: section 0x1000, file 0x20",
        "subsystem: 11",
        "characteristics: 0x2022",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(out.path("out.map").is_file(), "/lldmap writes out.map");
}

#[test]
fn merge_moves_rdata_into_data_and_section_attributes_replace_permissions() {
    let out = pectl_as(
        "lld-link",
        &[
            "/out:out.efi",
            "/opt:noref",
            "/section:.rdata,RD",
            &f("hello-coff.obj"),
        ],
    );
    out.assert_ok();
    let text = inspect(&out.path("out.efi"));
    let data = text.lines().find(|l| l.contains(".rdata ")).unwrap();
    assert!(data.ends_with("flags 0x42000040"), "{data}");
    let out = pectl_as(
        "lld-link",
        &[
            "/out:out.efi",
            "/opt:noref",
            "/merge:.rdata=.data",
            &f("hello-coff.obj"),
        ],
    );
    out.assert_ok();
    let text = inspect(&out.path("out.efi"));
    assert!(!text.contains(".rdata"), "{text}");
    let data = text.lines().find(|l| l.contains(".data ")).unwrap();
    assert!(data.ends_with("flags 0xc0000040"), "{data}");
}

#[test]
fn inputs_for_two_machines_name_both_files() {
    let out = pectl_as(
        "lld-link",
        &["/out:out.efi", &f("hello-coff.obj"), &f("hello-arm64.obj")],
    );
    out.assert_fails("inputs are for different machines:");
    assert!(
        out.stderr.contains("hello-coff.obj (amd64) and")
            && out.stderr.contains("hello-arm64.obj (arm64)"),
        "{}",
        out.stderr
    );
}

#[test]
fn llvm_bitcode_is_an_error_that_names_the_file_and_says_no_lto() {
    let dir = tempfile::tempdir().unwrap();
    let bc = dir.path().join("lto.o");
    std::fs::write(&bc, b"BC\xc0\xde\x35\x14\x00\x00\x05\x00\x00\x00").unwrap();
    let out = pectl_as("ld.lld", &["-o", "out.efi", &bc.display().to_string()]);
    out.assert_fails("lto.o: cannot read input: is LLVM bitcode");
    assert!(out.stderr.contains("build without LTO"), "{}", out.stderr);
}

#[test]
fn unknown_options_are_errors_not_inputs() {
    pectl_as("lld-link", &["/out:out.efi", "/FOO", &f("hello-coff.obj")])
        .assert_fails("unknown lld-link option `/FOO`");
    pectl_as("ld.lld", &["-o", "out.efi", "--frob", &f("hello-elf.o")])
        .assert_fails("unknown GNU ld option `--frob`");
    pectl_as(
        "ld.lld",
        &["-o", "out.efi", "-T", "x.ld", &f("hello-elf.o")],
    )
    .assert_fails("takes no linker scripts");
}

#[test]
fn drectve_defaultlib_is_found_through_libpath_unless_nodefaultlib() {
    let libpath = format!("/libpath:{}", fixture("").display());
    pectl_as("lld-link", &["/out:out.efi", &libpath, &f("drectve.obj")]).assert_ok();
    pectl_as(
        "lld-link",
        &[
            "/out:out.efi",
            &libpath,
            "/nodefaultlib:hello.a",
            &f("drectve.obj"),
        ],
    )
    .assert_fails("entry point `efi_main` is not defined");
}

#[test]
fn a_bare_input_name_not_in_the_working_directory_is_found_through_libpath() {
    let libpath = format!("/libpath:{}", fixture("").display());
    let out = pectl_as(
        "lld-link",
        &[
            "/out:out.efi",
            "/entry:efi_main",
            &libpath,
            "hello-coff.obj",
        ],
    );
    out.assert_ok();
    assert!(inspect(&out.path("out.efi")).contains("machine: 0x8664 (amd64)"));
    // Without a search path the name is only looked for where it is given.
    pectl_as(
        "lld-link",
        &["/out:out.efi", "/entry:efi_main", "hello-coff.obj"],
    )
    .assert_fails("hello-coff.obj: No such file");
}

#[test]
fn whole_archive_links_members_nobody_asked_for() {
    // hello.a's only member is hello-elf.o itself: linked whole, efi_main is defined twice.
    pectl_as(
        "ld.lld",
        &["-o", "out.efi", &f("hello-elf.o"), &f("hello.a")],
    )
    .assert_ok();
    pectl_as(
        "ld.lld",
        &[
            "-o",
            "out.efi",
            &f("hello-elf.o"),
            "--whole-archive",
            &f("hello.a"),
            "--no-whole-archive",
        ],
    )
    .assert_fails("duplicate symbol: efi_main");
}

#[test]
fn archive_without_a_symbol_index_links_and_gives_the_machine() {
    let out = pectl_as("ld.lld", &["-o", "out.efi", &f("hello-noindex.a")]);
    out.assert_ok();
    assert!(inspect(&out.path("out.efi")).contains("machine: 0x8664 (amd64)"));
}

#[test]
fn merge_into_bss_or_in_a_cycle_is_an_error() {
    let obj = f("hello-coff.obj");
    pectl_as("lld-link", &["/out:out.efi", "/merge:.data=.bss", &obj])
        .assert_fails("/MERGE:.data=.bss: .data can go into .text, .rdata or .data only");
    pectl_as(
        "lld-link",
        &[
            "/out:out.efi",
            "/merge:.data=.rdata",
            "/merge:.rdata=.data",
            &obj,
        ],
    )
    .assert_fails("/MERGE options form a cycle");
}
