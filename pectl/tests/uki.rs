//! `pectl uki`: Unified Kernel Images laid out as systemd's ukify lays them out. Stubs and
//! "kernels" are PE images pectl links from the committed fixtures; systemd's own stub is used
//! when it has been fetched (`$HOME/.cache/peln/systemd/linuxx64.efi.stub`).
use std::path::{Path, PathBuf};
use std::process::Command;

use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use object::LittleEndian as LE;

mod common;
use common::{fixture, link_fixture as link};

const SBAT_HEADER: &str =
    "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n";
const UKI_SBAT: &str =
    "uki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n";

/// Runs the pectl binary with `args`; returns (exit code, stderr).
fn pectl(args: &[&str]) -> (Option<i32>, String) {
    pectl_env(args, &[])
}

/// [`pectl`] with `env` added to the environment.
fn pectl_env(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pectl"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One section header, as the output holds it.
#[derive(Debug)]
struct Section {
    name: String,
    rva: u32,
    vsize: u32,
    offset: u32,
    raw_size: u32,
    flags: u32,
}

struct Image {
    bytes: Vec<u8>,
    section_alignment: u32,
    file_alignment: u32,
    size_of_image: u32,
    size_of_headers: u32,
    checksum: u32,
    timestamp: u32,
    symbol_table: u32,
    sections: Vec<Section>,
}

impl Image {
    fn read(path: &Path) -> Image {
        let bytes = std::fs::read(path).unwrap();
        let file = PeFile64::parse(&*bytes).unwrap();
        let nt = file.nt_headers();
        let oh = nt.optional_header();
        let sections = file
            .section_table()
            .iter()
            .map(|s| Section {
                name: String::from_utf8_lossy(s.raw_name())
                    .trim_end_matches('\0')
                    .to_string(),
                rva: s.virtual_address.get(LE),
                vsize: s.virtual_size.get(LE),
                offset: s.pointer_to_raw_data.get(LE),
                raw_size: s.size_of_raw_data.get(LE),
                flags: s.characteristics.get(LE).0,
            })
            .collect();
        Image {
            section_alignment: oh.section_alignment(),
            file_alignment: oh.file_alignment(),
            size_of_image: oh.size_of_image(),
            size_of_headers: oh.size_of_headers(),
            checksum: oh.check_sum(),
            timestamp: nt.file_header().time_date_stamp.get(LE),
            symbol_table: nt.file_header().pointer_to_symbol_table.get(LE),
            sections,
            bytes,
        }
    }

    fn names(&self) -> Vec<&str> {
        self.sections.iter().map(|s| s.name.as_str()).collect()
    }

    fn section(&self, name: &str) -> &Section {
        self.sections.iter().find(|s| s.name == name).unwrap()
    }

    /// The section's data: VirtualSize bytes, or all raw bytes when VirtualSize is larger.
    fn data(&self, name: &str) -> &[u8] {
        let s = self.section(name);
        let len = s.vsize.min(s.raw_size) as usize;
        &self.bytes[s.offset as usize..s.offset as usize + len]
    }

    fn text(&self, name: &str) -> &str {
        std::str::from_utf8(self.data(name)).unwrap()
    }
}

fn align(x: u32, a: u32) -> u32 {
    x.div_ceil(a) * a
}

/// The layout rule: `first_new` onwards, each section at the previous end rounded up to
/// SectionAlignment, raw data at FileAlignment offsets in file order, SizeOfRawData the data
/// length rounded up; SizeOfImage covers the last section.
fn assert_ukify_layout(img: &Image, first_new: usize) {
    for pair in img.sections[first_new - 1..].windows(2) {
        let (prev, s) = (&pair[0], &pair[1]);
        let end = prev.rva
            + if prev.vsize == 0 {
                prev.raw_size
            } else {
                prev.vsize
            };
        assert_eq!(
            s.rva,
            align(end, img.section_alignment),
            "{} after {}",
            s.name,
            prev.name
        );
        assert_eq!(s.offset % img.file_alignment, 0, "{}", s.name);
        assert!(s.offset >= prev.offset + prev.raw_size, "{}", s.name);
    }
    for s in &img.sections[first_new..] {
        assert_eq!(s.raw_size, align(s.vsize, img.file_alignment), "{}", s.name);
    }
    let last = img.sections.last().unwrap();
    assert_eq!(
        img.size_of_image,
        align(last.rva + last.vsize, img.section_alignment)
    );
    assert_eq!(
        Some(img.checksum),
        peln_uki::pe_checksum(&img.bytes),
        "stored checksum is the recomputed one"
    );
    let mut by_rva: Vec<&Section> = img.sections.iter().collect();
    by_rva.sort_by_key(|s| s.rva);
    for pair in by_rva.windows(2) {
        assert!(
            pair[0].rva + pair[0].vsize <= pair[1].rva,
            "{} overlaps {}",
            pair[0].name,
            pair[1].name
        );
    }
}

#[test]
fn uki_is_laid_out_as_ukify_lays_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stub = link(d, "stub.efi", "amd64", "hello-coff.obj");
    // A stub TimeDateStamp the UKI must keep (the linker writes 0 without SOURCE_DATE_EPOCH).
    let mut stub_bytes = std::fs::read(&stub).unwrap();
    stub_bytes[0x88..0x8c].copy_from_slice(&0x6502_0304u32.to_le_bytes());
    std::fs::write(&stub, &stub_bytes).unwrap();
    let kernel = link(d, "vmlinuz.efi", "amd64", "hello-elf.o");
    std::fs::write(d.join("a.cpio"), b"AAAAA").unwrap();
    std::fs::write(d.join("b.cpio"), b"BBBBBBB").unwrap();
    std::fs::write(d.join("os-release"), b"ID=peln\nVERSION_ID=1\n").unwrap();
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    let build = |out: &str| {
        let (code, stderr) = pectl(&[
            "uki",
            "--stub",
            &p("stub.efi"),
            "--linux",
            &p("vmlinuz.efi"),
            "--initrd",
            &p("a.cpio"),
            "--initrd",
            &p("b.cpio"),
            "--cmdline",
            "console=ttyS0 quiet",
            "--os-release",
            &format!("@{}", p("os-release")),
            "--uname",
            "6.1.0-peln",
            "-o",
            &p(out),
        ]);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(stderr, "", "no warnings");
        Image::read(&d.join(out))
    };
    let img = build("uki.efi");
    let stub_img = Image::read(&stub);
    let kernel_img = Image::read(&kernel);
    let n = stub_img.sections.len();

    let mut want: Vec<&str> = stub_img.names();
    want.extend([".osrel", ".cmdline", ".uname", ".linux", ".initrd", ".sbat"]);
    assert_eq!(img.names(), want);
    assert_ukify_layout(&img, n);
    // pectl's stub: 4 sections ending with .reloc at 0x4000, so .osrel goes at 0x5000.
    assert_eq!(img.section(".osrel").rva, 0x5000);
    assert_eq!(img.section(".osrel").offset, stub_bytes.len() as u32);

    assert_eq!(img.data(".osrel"), b"ID=peln\nVERSION_ID=1\n");
    assert_eq!(img.text(".cmdline"), "console=ttyS0 quiet");
    assert_eq!(img.text(".uname"), "6.1.0-peln");
    assert_eq!(img.data(".initrd"), b"AAAAA\0\0\0BBBBBBB\0");
    let linux = img.section(".linux");
    // As ukify 257: the data length, not the kernel's SizeOfImage.
    assert_eq!(linux.vsize as usize, kernel_img.bytes.len());
    assert_eq!(linux.raw_size as usize, kernel_img.bytes.len());
    assert_eq!(
        &img.bytes[linux.offset as usize..][..kernel_img.bytes.len()],
        &kernel_img.bytes[..]
    );
    assert_eq!(linux.flags, 0x4000_0020, ".linux: CNT_CODE | MEM_READ");
    for name in [".osrel", ".cmdline", ".uname", ".initrd", ".sbat"] {
        assert_eq!(img.section(name).flags, 0x4000_0040, "{name}");
    }
    assert_eq!(
        img.data(".sbat"),
        format!("{SBAT_HEADER}{UKI_SBAT}\0").as_bytes()
    );

    // The stub is kept: its headers' tail, its sections, its timestamp.
    assert_eq!(img.timestamp, 0x6502_0304);
    assert_eq!(img.size_of_headers, stub_img.size_of_headers);
    for (a, b) in img.sections[..n].iter().zip(&stub_img.sections) {
        assert_eq!(
            (a.rva, a.vsize, a.offset, a.raw_size, a.flags),
            (b.rva, b.vsize, b.offset, b.raw_size, b.flags)
        );
    }
    let first_raw = stub_img.sections[0].offset as usize;
    assert_eq!(
        img.bytes[first_raw..stub_bytes.len()],
        stub_bytes[first_raw..]
    );

    let again = build("again.efi");
    assert!(img.bytes == again.bytes, "same inputs, same bytes");
}

#[test]
fn text_options_take_files_and_sbat_texts_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    link(d, "stub.efi", "arm64", "hello-arm64.obj");
    link(d, "kernel.efi", "arm64", "hello-arm64.obj");
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    std::fs::write(d.join("cmdline"), b"root=/dev/vda rw\n").unwrap();
    std::fs::write(
        d.join("extra.sbat"),
        "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n\
         peln,1,peln,peln,1,https://example.org/peln\n",
    )
    .unwrap();
    let (code, stderr) = pectl(&[
        "uki",
        "--stub",
        &p("stub.efi"),
        "--linux",
        &p("kernel.efi"),
        "--cmdline",
        &format!("@{}", p("cmdline")),
        "--initrd",
        &p("cmdline"),
        "--sbat",
        &format!("@{}", p("extra.sbat")),
        "--sbat",
        "vendor,1,V,vendor,1,https://v\n",
        "--sbat",
        "sbat,1,x\nvendor,2,V,vendor,2,https://v",
        "-o",
        &p("uki.efi"),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "pectl: warning: --sbat text #2 does not start with an `sbat,` line; not merged into .sbat"
    );
    let img = Image::read(&d.join("uki.efi"));
    assert_eq!(
        img.names()[4..],
        [".cmdline", ".linux", ".initrd", ".sbat"],
        "no --uname and no version in the kernel: no .uname"
    );
    assert_ukify_layout(&img, 4);
    assert_eq!(img.data(".cmdline"), b"root=/dev/vda rw\n");
    // A single initrd is taken as it is: no padding.
    assert_eq!(img.data(".initrd"), b"root=/dev/vda rw\n");
    assert_eq!(
        img.text(".sbat"),
        format!(
            "{SBAT_HEADER}peln,1,peln,peln,1,https://example.org/peln\n\
             vendor,2,V,vendor,2,https://v\n\0"
        )
    );
}

/// Runs `pectl uki ARGS… -o OUT` where OUT is `out_dir/uki.efi`; asserts a clean failure whose
/// message holds every `expected` text, and that `out_dir` holds exactly what it held before.
fn assert_uki_fails(args: &[&str], out_dir: &Path, expected: &[&str]) {
    let before: Vec<_> = listing(out_dir);
    let previous = std::fs::read(out_dir.join("uki.efi")).ok();
    let out = out_dir.join("uki.efi");
    let mut all = vec!["uki"];
    all.extend_from_slice(args);
    all.extend(["-o", out.to_str().unwrap()]);
    let (code, stderr) = pectl(&all);
    assert_eq!(code, Some(1), "{stderr}");
    for e in expected {
        assert!(stderr.contains(e), "missing {e:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        listing(out_dir),
        before,
        "a failed build leaves no file behind"
    );
    assert_eq!(
        std::fs::read(&out).ok(),
        previous,
        "the previous output is untouched"
    );
}

/// The amd64 stub (hello-coff.obj) and kernel (hello-elf.o, as `kernel_name`), linked into `d`.
fn stub_and_kernel(d: &Path, kernel_name: &str) -> (PathBuf, PathBuf) {
    (
        link(d, "stub.efi", "amd64", "hello-coff.obj"),
        link(d, kernel_name, "amd64", "hello-elf.o"),
    )
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn bad_inputs_fail_cleanly_and_leave_no_output() {
    let inputs = tempfile::tempdir().unwrap();
    let d = inputs.path();
    let (stub, kernel) = stub_and_kernel(d, "kernel.efi");
    let arm = link(d, "arm.efi", "arm64", "hello-arm64.obj");
    std::fs::write(d.join("notes.txt"), "just some text\n").unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (stub, kernel, arm) = (s(&stub), s(&kernel), s(&arm));
    let missing = s(&d.join("missing.efi"));
    let notes = s(&d.join("notes.txt"));
    let elf = s(&fixture("hello-elf.o"));
    let at_missing = format!("@{missing}");

    // A UKI is a stub that already has .linux (and the rest).
    let made = tempfile::tempdir().unwrap();
    let uki = made.path().join("uki.efi");
    pectl::run([
        "pectl",
        "uki",
        "--stub",
        &stub,
        "--linux",
        &kernel,
        "-o",
        &s(&uki),
    ])
    .unwrap();
    let uki = s(&uki);

    let cases: Vec<(Vec<&str>, Vec<String>)> = vec![
        (
            vec!["--stub", &stub, "--linux", &arm],
            vec![format!(
                "kernel {arm} is for machine 0xaa64 (arm64) but stub {stub} is for machine 0x8664 (amd64)"
            )],
        ),
        (
            vec!["--stub", &stub, "--linux", &missing],
            vec![format!("{missing}: No such file or directory")],
        ),
        (
            vec!["--stub", &missing, "--linux", &kernel],
            vec![format!("{missing}: No such file or directory")],
        ),
        (
            vec!["--stub", &elf, "--linux", &kernel],
            vec![format!("{elf}: not a PE image: it is an ELF file")],
        ),
        (
            vec!["--stub", &notes, "--linux", &kernel],
            vec![format!("{notes}: not a PE image: no MZ signature")],
        ),
        (
            vec!["--stub", &stub, "--linux", &notes],
            vec![format!("{notes}: not a PE image: no MZ signature")],
        ),
        (
            vec!["--stub", &uki, "--linux", &kernel],
            vec![format!(
                "{uki}: the stub already has a .linux section, which the UKI would add"
            )],
        ),
        (
            vec!["--stub", &stub, "--linux", &kernel, "--initrd", &missing],
            vec![format!("{missing}: No such file or directory")],
        ),
        (
            vec!["--stub", &stub, "--linux", &kernel, "--cmdline", &at_missing],
            vec![format!("{missing}: No such file or directory")],
        ),
    ];
    for (args, expected) in &cases {
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        // No previous output: none afterwards.
        let empty = tempfile::tempdir().unwrap();
        assert_uki_fails(args, empty.path(), &expected);
        // A previous output: kept as it was, not truncated.
        let kept = tempfile::tempdir().unwrap();
        std::fs::write(kept.path().join("uki.efi"), b"previous good image").unwrap();
        assert_uki_fails(args, kept.path(), &expected);
    }
}

#[test]
fn inspect_shows_every_uki_section() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (stub, kernel) = stub_and_kernel(d, "kernel.efi");
    let out = d.join("uki.efi");
    let mut args = vec!["pectl".to_string()];
    args.extend(uki_args(d, &stub, &kernel, "quiet"));
    args.extend(["--uname", "6.1.0", "-o", out.to_str().unwrap()].map(String::from));
    pectl::run(args).unwrap();
    let text = common::inspect(&out);
    for name in [
        ".text", ".reloc", ".osrel", ".cmdline", ".uname", ".initrd", ".linux", ".sbat",
    ] {
        assert!(
            text.contains(&format!("  {name} ")),
            "{name} missing:\n{text}"
        );
    }
    assert!(text.contains("(valid)"), "{text}");
    insta::assert_snapshot!(text);
}

/// `uki --stub STUB --linux KERNEL --initrd <d>/initrd --cmdline CMDLINE --os-release ID=peln`
/// (the initrd a bare cpio magic written here): what the UKI runs below share before their own
/// options.
fn uki_args(d: &Path, stub: &Path, kernel: &Path, cmdline: &str) -> Vec<String> {
    let initrd = d.join("initrd");
    std::fs::write(&initrd, b"070701").unwrap();
    let p = |f: &Path| f.to_str().unwrap().to_string();
    vec![
        "uki".into(),
        "--stub".into(),
        p(stub),
        "--linux".into(),
        p(kernel),
        "--initrd".into(),
        p(&initrd),
        "--cmdline".into(),
        cmdline.into(),
        "--os-release".into(),
        "ID=peln".into(),
    ]
}

#[test]
fn systemd_stub_makes_a_uki() {
    // systemd's stub from Debian's systemd-boot-efi, fetched by the test setup.
    let Some(stub) = peln_tests::skip_unless(peln_tests::kernel::systemd_stub()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kernel = link(d, "vmlinuz.efi", "amd64", "hello-elf.o");
    let out = d.join("uki.efi");
    let mut args = uki_args(d, &stub, &kernel, "console=ttyS0");
    args.extend(["-o".to_string(), out.to_str().unwrap().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stderr) = pectl(&args);
    assert_eq!(code, Some(0), "{stderr}");
    let img = Image::read(&out);
    let stub_img = Image::read(&stub);
    let stub_sbat = stub_img.text(".sbat").trim_end_matches('\0').to_string();
    assert!(stub_sbat.starts_with("sbat,1,"), "{stub_sbat}");

    // The stub's sections stay in place (its .sbat either rewritten in place, or dropped and
    // appended when the merged data does not fit before the next section, as in systemd 252).
    let kept: Vec<&str> = img
        .names()
        .into_iter()
        .take_while(|n| *n != ".osrel")
        .collect();
    let mut stub_names = stub_img.names();
    if !kept.contains(&".sbat") {
        assert!(
            stderr.contains("the merged .sbat appended after .linux"),
            "{stderr}"
        );
        stub_names.retain(|n| *n != ".sbat");
    }
    assert_eq!(kept, stub_names);
    assert!(kept.contains(&".sdmagic"));
    for s in &img.sections[..kept.len()] {
        let orig = stub_img.section(&s.name);
        assert_eq!((s.rva, s.offset), (orig.rva, orig.offset), "{}", s.name);
        if s.name != ".sbat" {
            assert_eq!(img.data(&s.name), stub_img.data(&s.name), "{}", s.name);
        }
    }
    let added: Vec<&str> = img.names()[kept.len()..].to_vec();
    let mut want = vec![".osrel", ".cmdline", ".linux", ".initrd"];
    if !kept.contains(&".sbat") {
        want.push(".sbat");
    }
    assert_eq!(added, want);
    assert_ukify_layout(&img, kept.len());
    assert_eq!(img.symbol_table, 0, "the stub's symbol table is stripped");
    assert_eq!(img.timestamp, stub_img.timestamp);

    // One header line, then the stub's entries, then ukify's default `uki` entry.
    let mut sbat = String::from(SBAT_HEADER);
    for line in stub_sbat.lines().skip(1) {
        sbat.push_str(line);
        sbat.push('\n');
    }
    sbat.push_str(UKI_SBAT);
    sbat.push('\0');
    assert_eq!(img.text(".sbat"), sbat);
    assert_eq!(
        img.section(".linux").vsize as usize,
        Image::read(&kernel).bytes.len(),
        "the kernel's length, as ukify 257"
    );
}

/// `pectl verify [--cert C] FILE`'s exit code and output.
fn verify(file: &Path, cert: Option<&Path>) -> (Option<i32>, String) {
    let mut args = vec!["verify"];
    if let Some(c) = cert {
        args.extend(["--cert", c.to_str().unwrap()]);
    }
    args.push(file.to_str().unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_pectl"))
        .args(&args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `--secureboot-private-key/--secureboot-certificate` (ukify's names) sign the UKI and the
/// unsigned kernel inside it; `pectl verify --cert` accepts both with that certificate and
/// refuses them with another. A signed stub is refused without signing and has its signature
/// dropped with it; `--require-signed-stub` refuses an unsigned stub. The key's password comes
/// from `--key-password-file` or `PELN_KEY_PASSWORD`.
#[test]
fn secureboot_options_sign_the_uki_and_its_kernel() {
    if peln_tests::skip_unless(peln_tests::env::need_tool("openssl")).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pair = peln_tests::secureboot::fresh_key_pair(d, "peln-uki-test");
    let other = peln_tests::secureboot::fresh_key_pair(d, "peln-other");
    // The same key, encrypted (PBES2), for the password paths.
    let enc = peln_tests::secureboot::encrypted(&pair, &d.join("enc.key"), "peln-pw");
    let (stub, kernel) = stub_and_kernel(d, "vmlinuz.efi");
    let p = |n: &Path| n.to_str().unwrap().to_string();
    let (key, cert) = (p(&pair.key), p(&pair.cert));
    let uki_env = |stub: &Path, out: &str, extra: &[&str], env: &[(&str, &str)]| {
        let out = d.join(out);
        let mut args = vec![
            "uki".to_string(),
            "--stub".into(),
            p(stub),
            "--linux".into(),
            p(&kernel),
            "--cmdline".into(),
            "console=ttyS0".into(),
            "-o".into(),
            p(&out),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        (pectl_env(&args, env), out)
    };
    let uki = |stub: &Path, out: &str, extra: &[&str]| uki_env(stub, out, extra, &[]);
    let sign = [
        "--secureboot-private-key",
        &key,
        "--secureboot-certificate",
        &cert,
    ];

    let ((code, stderr), signed) = uki(&stub, "signed.efi", &sign);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(verify(&signed, Some(&pair.cert)).0, Some(0));
    assert_eq!(verify(&signed, Some(&other.cert)).0, Some(1));
    // The kernel inside is signed too: firmware checks it again when the stub loads it.
    let img = Image::read(&signed);
    let linux = img.sections.iter().find(|s| s.name == ".linux").unwrap();
    let start = linux.offset as usize;
    std::fs::write(
        d.join("linux"),
        &img.bytes[start..start + linux.vsize as usize],
    )
    .unwrap();
    assert_eq!(verify(&d.join("linux"), Some(&pair.cert)).0, Some(0));
    // Reproducible: same inputs, same SOURCE_DATE_EPOCH-less signature bytes.
    let ((code, stderr), again) = uki(&stub, "again.efi", &sign);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(std::fs::read(&again).unwrap(), img.bytes);

    // Encrypted key: password from a file, from the environment, or an error naming the key.
    let enc_key = p(&enc.key);
    let enc_sign = [
        "--secureboot-private-key",
        &enc_key,
        "--secureboot-certificate",
        &cert,
    ];
    let pw = p(enc.password_file.as_ref().unwrap());
    let mut with_file = enc_sign.to_vec();
    with_file.extend(["--key-password-file", &pw]);
    let ((code, stderr), from_file) = uki(&stub, "pw-file.efi", &with_file);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(std::fs::read(&from_file).unwrap(), img.bytes);
    let ((code, stderr), from_env) = uki_env(
        &stub,
        "pw-env.efi",
        &enc_sign,
        &[("PELN_KEY_PASSWORD", "peln-pw")],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(std::fs::read(&from_env).unwrap(), img.bytes);
    let fails = tempfile::tempdir().unwrap();
    assert_uki_fails(
        &[
            "--stub",
            &p(&stub),
            "--linux",
            &p(&kernel),
            enc_sign[0],
            enc_sign[1],
            enc_sign[2],
            enc_sign[3],
        ],
        fails.path(),
        &[&enc_key],
    );

    // A signed stub: refused unsigned, accepted when signing (its signature dropped: the UKI
    // carries exactly one, which verifies).
    let signed_stub = d.join("signed-stub.efi");
    let (code, stderr) = pectl(&[
        "sign",
        "--key",
        &key,
        "--cert",
        &cert,
        "-o",
        &p(&signed_stub),
        &p(&stub),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_uki_fails(
        &["--stub", &p(&signed_stub), "--linux", &p(&kernel)],
        fails.path(),
        &["signed-stub.efi", "the stub is signed"],
    );
    let mut require = sign.to_vec();
    require.push("--require-signed-stub");
    let ((code, stderr), from_signed) = uki(&signed_stub, "from-signed.efi", &require);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(verify(&from_signed, Some(&pair.cert)).0, Some(0));
    assert_eq!(
        std::fs::read(&from_signed).unwrap(),
        img.bytes,
        "the stub's signature is dropped before the UKI is built"
    );
    assert_uki_fails(
        &[
            "--stub",
            &p(&stub),
            "--linux",
            &p(&kernel),
            "--require-signed-stub",
        ],
        fails.path(),
        &["stub.efi", "not signed"],
    );
}
