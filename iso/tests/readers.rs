//! Independent readers agree with the image: xorriso (libisofs), isoinfo (cdrkit), sgdisk,
//! fsck.fat and mtools.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{
    build, build_image, fake_pe, fsck_esp, gpt_partition, have_tool, scratch, tool, xorriso_extract,
};

/// A 4-arch image with extra files, built once for this test binary.
fn image() -> &'static Path {
    static IMG: OnceLock<PathBuf> = OnceLock::new();
    IMG.get_or_init(|| {
        let d = scratch("readers");
        let mut args = common::write_four_arch_ukis(&d, 3000);
        let t = d.join("tree");
        let _ = fs::remove_dir_all(&t);
        fs::create_dir_all(t.join("Sub Dir")).unwrap();
        fs::write(t.join("hello.txt"), b"hello from the iso\n").unwrap();
        fs::write(
            t.join("Sub Dir/MixedCase-long-file-name.Squashfs"),
            b"payload",
        )
        .unwrap();
        fs::write(d.join("readme"), b"read me\n").unwrap();
        let out = d.join("readers.iso");
        let p = |n: &str| d.join(n).display().to_string();
        args.extend([
            "--add".into(),
            format!("/={}", p("tree")),
            "--add".into(),
            format!("docs/README={}", p("readme")),
            "-V".into(),
            "Readers_Test".into(),
        ]);
        build_image(args, out)
    })
}

fn line_with<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"))
}

fn fields(line: &str) -> Vec<&str> {
    line.split(':').nth(1).unwrap().split_whitespace().collect()
}

/// The shared image's path, as an argument for `tool`; `None` (skipped) without the tool.
fn image_for(tool: &str) -> Option<String> {
    have_tool(tool).then(|| image().display().to_string())
}

#[test]
fn xorriso_reports_el_torito_and_system_area() {
    if !have_tool("xorriso") {
        return;
    }
    let img = image();
    let (ok, out) = tool(
        "xorriso",
        &[
            "-indev",
            &img.display().to_string(),
            "-report_el_torito",
            "plain",
            "-report_system_area",
            "plain",
        ],
    );
    assert!(ok, "{out}");
    let (p2_first, p2_last, p2_guid) = gpt_partition(img, 2);
    let esp_blocks = (p2_last + 1 - p2_first) / 4;
    // One UEFI, bootable, no-emulation image: 32768 virtual sectors at LBA = ESP start.
    assert_eq!(
        fields(line_with(&out, "El Torito boot img :")),
        [
            "1",
            "UEFI",
            "y",
            "none",
            "0x0000",
            "0x00",
            "32768",
            &(p2_first / 4).to_string()
        ]
    );
    assert_eq!(
        fields(line_with(&out, "El Torito img blks :")),
        ["1", &esp_blocks.to_string()]
    );
    assert_eq!(
        line_with(&out, "System area summary:"),
        "System area summary: MBR protective-msdos-label cyl-align-off GPT"
    );
    let total = fs::metadata(img).unwrap().len() / 512;
    assert_eq!(
        fields(line_with(&out, "MBR partition      :")),
        ["1", "0x00", "0xee", "1", &(total - 1).to_string()]
    );
    let parts: Vec<_> = out
        .lines()
        .filter(|l| l.starts_with("GPT start and size :"))
        .map(fields)
        .collect();
    assert_eq!(
        parts,
        [
            vec!["1".to_string(), "64".into(), (p2_first - 64).to_string()],
            vec![
                "2".to_string(),
                p2_first.to_string(),
                (p2_last + 1 - p2_first).to_string()
            ]
        ]
    );
    assert!(
        out.contains("GPT type GUID      :   2  28732ac11ff8d211ba4b00a0c93ec93b"),
        "{out}"
    );
    assert!(out.contains("GPT partname local :   2  ESP"), "{out}");
    // libisofs prints GUIDs in on-disk byte order.
    let disk_order: String = {
        let e = common::read_at(img, 1024 + 128 + 16, 16);
        e.iter().map(|b| format!("{b:02x}")).collect()
    };
    assert!(
        out.contains(&format!("GPT partition GUID :   2  {disk_order}")),
        "{p2_guid}: {out}"
    );
}

#[test]
fn xorriso_lists_rock_ridge_names_and_extracts() {
    let Some(img) = image_for("xorriso") else {
        return;
    };
    let (ok, out) = tool("xorriso", &["-indev", &img, "-find", "/", "-exec", "lsdl"]);
    assert!(ok, "{out}");
    let listing: Vec<&str> = out
        .lines()
        .filter(|l| l.ends_with('\'') && (l.starts_with('d') || l.starts_with('-')))
        .collect();
    assert_eq!(
        listing,
        [
            "dr-xr-xr-x    1 0        0               0 Jan  1  1970 '/'",
            "dr-xr-xr-x    1 0        0               0 Jan  1  1970 '/Sub Dir'",
            "-r--r--r--    1 0        0               7 Jan  1  1970 '/Sub Dir/MixedCase-long-file-name.Squashfs'",
            "dr-xr-xr-x    1 0        0               0 Jan  1  1970 '/docs'",
            "-r--r--r--    1 0        0               8 Jan  1  1970 '/docs/README'",
            "-r--r--r--    1 0        0              19 Jan  1  1970 '/hello.txt'",
        ]
    );
    let d = tempfile::tempdir().unwrap();
    let to = d.path().join("x");
    xorriso_extract(&img, "/Sub Dir/MixedCase-long-file-name.Squashfs", &to);
    assert_eq!(fs::read(&to).unwrap(), b"payload");
}

#[test]
fn isoinfo_sees_rock_ridge_joliet_and_el_torito() {
    let Some(img) = image_for("isoinfo") else {
        return;
    };
    let lba = gpt_partition(image(), 2).0 / 4;
    let (ok, d) = tool("isoinfo", &["-d", "-i", &img]);
    assert!(ok, "{d}");
    for want in [
        "Volume id: READERS_TEST",
        "Application id: CLOUD-BOOT-ISO",
        "Logical block size is: 2048",
        "Joliet with UCS level 3 found",
        "Rock Ridge signatures version 1 found",
        "Arch 239 (Unknown Arch)",
        "Bootid 88 (bootable)",
        "Boot media 0 (No Emulation Boot)",
        // isoinfo sign-extends the 16-bit count: 0x8000 = 32768 sectors = 16 MiB.
        "Nsect FFFF8000",
        &format!("Bootoff {lba:X} {lba}"),
    ] {
        assert!(d.contains(want), "missing {want:?} in:\n{d}");
    }
    let names = |flag: &str| -> Vec<String> {
        let mut args = vec!["-f", "-i", &img];
        if !flag.is_empty() {
            args.push(flag);
        }
        let (ok, out) = tool("isoinfo", &args);
        assert!(ok, "{out}");
        out.lines().map(str::to_string).collect()
    };
    // Rock Ridge names, in the order of the primary records (sorted by ISO 9660 identifier).
    assert_eq!(
        names("-R"),
        [
            "/docs",
            "/hello.txt",
            "/Sub Dir",
            "/docs/README",
            "/Sub Dir/MixedCase-long-file-name.Squashfs"
        ]
    );
    // Joliet names, in Joliet (UCS-2) order, files with the ";1" that Windows and Linux strip.
    assert_eq!(
        names("-J"),
        [
            "/Sub Dir",
            "/docs",
            "/hello.txt;1",
            "/Sub Dir/MixedCase-long-file-name.Squashfs;1",
            "/docs/README;1"
        ]
    );
    // Plain ISO 9660 names: d-characters, level-2 lengths, version ";1" on files.
    assert_eq!(
        names(""),
        [
            "/DOCS",
            "/HELLO.TXT;1",
            "/SUB_DIR",
            "/DOCS/README.;1",
            "/SUB_DIR/MIXEDCASE_LONG_FILE_NA.SQUASHFS;1"
        ]
    );
}

#[test]
fn sgdisk_verifies_clean() {
    let Some(img) = image_for("sgdisk") else {
        return;
    };
    let (ok, out) = tool("sgdisk", &["-v", &img]);
    assert!(ok, "{out}");
    assert!(out.contains("No problems found."), "{out}");
    let (ok, out) = tool("sgdisk", &["-p", &img]);
    assert!(ok, "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip_while(|l| !l.starts_with("Number"))
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!((rows[0][5], rows[0][6]), ("0700", "ISO9660"));
    assert_eq!((rows[1][5], rows[1][6]), ("EF00", "ESP"));
}

fn fsck_and_mtools(img: &Path, expect_fat: &str, files: &[(&str, &Path)]) {
    let d = tempfile::tempdir().unwrap();
    let (p, out) = fsck_esp(img, d.path());
    assert!(out.contains(expect_fat), "{out}");
    if !have_tool("mdir") {
        return;
    }
    let (ok, out) = tool("mdir", &["-i", &p, "-b", "::/EFI/BOOT"]);
    assert!(ok, "{out}");
    let mut got: Vec<&str> = out.lines().collect();
    got.sort();
    let mut want: Vec<String> = files
        .iter()
        .map(|(n, _)| format!("::/EFI/BOOT/{n}"))
        .collect();
    want.sort();
    assert_eq!(got, want);
    for (name, src) in files {
        let to = d.path().join(name);
        let (ok, out) = tool(
            "mcopy",
            &[
                "-i",
                &p,
                &format!("::/EFI/BOOT/{name}"),
                &to.display().to_string(),
            ],
        );
        assert!(ok, "{out}");
        assert_eq!(fs::read(&to).unwrap(), fs::read(src).unwrap(), "{name}");
    }
    let (ok, out) = tool("minfo", &["-i", &p]);
    assert!(ok, "{out}");
    assert!(out.contains("serial number: 43424953"), "{out}");
}

#[test]
fn fsck_fat_clean_on_partition_2_fat16() {
    if !have_tool("fsck.fat") {
        return;
    }
    let d = scratch("readers");
    fsck_and_mtools(
        image(),
        "16 bit entries",
        &[
            ("BOOTX64.EFI", &d.join("x64.efi")),
            ("BOOTAA64.EFI", &d.join("aa64.efi")),
            ("BOOTRISCV64.EFI", &d.join("rv64.efi")),
            ("BOOTLOONGARCH64.EFI", &d.join("la64.efi")),
        ],
    );
}

#[test]
fn fsck_fat_clean_on_partition_2_fat32() {
    if !have_tool("fsck.fat") {
        return;
    }
    // 330 MiB of input × 1.5 + 8 MiB → a 512 MiB ESP, the first FAT32 size.
    let d = tempfile::tempdir().unwrap();
    let big = d.path().join("big.efi");
    let mut pe = fake_pe(0x8664, 0x20b, 10);
    pe.extend(b"first bytes of a big UKI");
    fs::write(&big, &pe).unwrap();
    let f = fs::File::options().write(true).open(&big).unwrap();
    f.set_len(330 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"last bytes", (330 << 20) - 10).unwrap();
    let small = d.path().join("la.efi");
    fs::write(&small, fake_pe(0x6264, 0x20b, 11)).unwrap();
    let out = d.path().join("fat32.iso");
    build(&[
        "--uki",
        &format!("linux/amd64={}", big.display()),
        "--uki",
        &format!("linux/loong64={}", small.display()),
        "-q",
        "-o",
        &out.display().to_string(),
    ]);
    let (first, last, _) = gpt_partition(&out, 2);
    assert_eq!((last + 1 - first) * 512, 512 << 20);
    fsck_and_mtools(
        &out,
        "32 bit entries",
        &[("BOOTX64.EFI", &big), ("BOOTLOONGARCH64.EFI", &small)],
    );
}

#[test]
fn many_long_names_span_blocks_and_continuation_areas() {
    if !have_tool("xorriso") || !have_tool("isoinfo") {
        return;
    }
    // 800 names of 200 bytes: a multi-block directory whose Rock Ridge names do not fit their
    // records and continue in CE areas, and colliding 30-character ISO 9660 / 62-unit Joliet
    // names that need numbering.
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("many");
    fs::create_dir(&src).unwrap();
    let mut want = Vec::new();
    for i in 0..800 {
        let name = format!("{}-{i:04}.txt", "n".repeat(191));
        fs::write(src.join(&name), format!("{i}\n")).unwrap();
        want.push(format!("/many/{name}"));
    }
    let img_s = common::build_with_add(d.path(), "many.iso", &format!("many={}", src.display()));
    let (ok, out) = tool(
        "xorriso",
        &["-indev", &img_s, "-find", "/many", "-type", "f"],
    );
    assert!(ok, "{out}");
    let mut got: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("'/many/"))
        .map(|l| l.trim_matches('\'').to_string())
        .collect();
    got.sort();
    assert_eq!(got, want);
    let (ok, out) = tool("isoinfo", &["-f", "-R", "-i", &img_s]);
    assert!(ok, "{out}");
    let mut got: Vec<&str> = out.lines().filter(|l| l.starts_with("/many/")).collect();
    got.sort();
    assert_eq!(got, want);
    let (ok, out) = tool("isoinfo", &["-f", "-J", "-i", &img_s]);
    assert!(ok, "{out}");
    let joliet: std::collections::HashSet<&str> =
        out.lines().filter(|l| l.starts_with("/many/")).collect();
    assert_eq!(joliet.len(), 800, "Joliet names are unique");
    let t = d.path().join("one");
    xorriso_extract(&img_s, &want[777], &t);
    assert_eq!(fs::read_to_string(&t).unwrap(), "777\n");
}
