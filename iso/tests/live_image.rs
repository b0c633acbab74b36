//! build-iso images read by independent tools (xorriso, isoinfo, sgdisk, fsck.fat, mtools),
//! rebuilt byte for byte, and built with squashfs files over 4 GiB in flat memory.

mod common;

use std::fs::{self, File};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::live::{self, mklive};
use common::{content_digest, fsck_esp, have_tool, tool, xorriso_extract};

/// Two-arch build-iso arguments (amd64 + arm64 mklive inputs, `squashfs` per arch) for `out`.
fn args(squashfs: [&Path; 2], out: &Path, reversed: bool) -> Option<Vec<String>> {
    let mut v = vec!["-q".to_string()];
    let mut specs = Vec::new();
    for ((arch, name), sq) in [("amd64", "x86_64"), ("arm64", "aarch64")]
        .into_iter()
        .zip(squashfs)
    {
        let l = mklive(arch, "image")?;
        specs.push(format!("{name}:{}:{}", l.boot_tar.display(), sq.display()));
    }
    if reversed {
        specs.reverse();
    }
    for s in specs {
        v.push("--arch".into());
        v.push(s);
    }
    v.push(out.display().to_string());
    Some(v)
}

#[test]
fn readers_agree_and_rebuilds_are_byte_identical() {
    for t in ["xorriso", "isoinfo", "sgdisk", "fsck.fat", "mdir", "mtype"] {
        if !have_tool(t) {
            return;
        }
    }
    let (Some(a), Some(b)) = (mklive("amd64", "image"), mklive("arm64", "image")) else {
        return;
    };
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let one = d.path().join("one.iso");
    let two = d.path().join("two.iso");
    let Some(first) = args([&a.squashfs, &b.squashfs], &one, false) else {
        return;
    };
    live::build(&first);
    live::build(&args([&a.squashfs, &b.squashfs], &two, true).unwrap());
    assert!(
        fs::read(&one).unwrap() == fs::read(&two).unwrap(),
        "argument order changed the image"
    );
    let img = one.display().to_string();

    let (ok, out) = tool("xorriso", &["-indev", &img, "-find", "/", "-type", "f"]);
    assert!(ok, "{out}");
    let mut files: Vec<&str> = out.lines().filter(|l| l.starts_with('\'')).collect();
    files.sort();
    assert_eq!(
        files,
        [
            "'/EFI/BOOT/BOOTAA64.EFI'",
            "'/EFI/BOOT/BOOTX64.EFI'",
            "'/LiveOS/squashfs-aarch64.img'",
            "'/LiveOS/squashfs-x86_64.img'",
            "'/images/pxeboot/aarch64/initrd.img'",
            "'/images/pxeboot/aarch64/vmlinuz'",
            "'/images/pxeboot/x86_64/initrd.img'",
            "'/images/pxeboot/x86_64/vmlinuz'",
        ]
    );

    let (ok, out) = tool("isoinfo", &["-d", "-i", &img]);
    assert!(ok, "{out}");
    assert!(out.contains("Volume id: DAKOTA_LIVE"), "{out}");
    let (ok, out) = tool("isoinfo", &["-d", "-J", "-i", &img]);
    assert!(ok, "{out}");
    assert!(out.contains("Volume id: DAKOTA_LIVE"), "Joliet: {out}");
    let (ok, out) = tool("isoinfo", &["-f", "-R", "-i", &img]);
    assert!(ok, "{out}");
    assert!(out.contains("/LiveOS/squashfs-x86_64.img"), "{out}");

    let (ok, out) = tool("sgdisk", &["-v", &img]);
    assert!(ok && out.contains("No problems found."), "{out}");

    let (p, _) = fsck_esp(&one, d.path());
    let (ok, out) = tool("mdir", &["-i", &p, "-/", "-b", "::/"]);
    assert!(ok, "{out}");
    let mut esp: Vec<&str> = out.lines().filter(|l| !l.ends_with('/')).collect();
    esp.sort();
    assert_eq!(
        esp,
        [
            "::/EFI/BOOT/BOOTAA64.EFI",
            "::/EFI/BOOT/BOOTX64.EFI",
            "::/images/pxeboot/aarch64/initrd.img",
            "::/images/pxeboot/aarch64/vmlinuz",
            "::/images/pxeboot/x86_64/initrd.img",
            "::/images/pxeboot/x86_64/vmlinuz",
            "::/loader/entries/dakota-live-aarch64.conf",
            "::/loader/entries/dakota-live-x86_64.conf",
            "::/loader/loader.conf",
        ]
    );
    let (ok, out) = tool(
        "mtype",
        &["-i", &p, "::/loader/entries/dakota-live-aarch64.conf"],
    );
    assert!(ok, "{out}");
    assert!(out.contains("\narchitecture aa64\n"), "{out}");
    assert!(out.contains("console=ttyAMA0,115200n8"), "{out}");
    // The same systemd-boot on both sides.
    xorriso_extract(
        &img,
        "/EFI/BOOT/BOOTAA64.EFI",
        &d.path().join("iso-side.efi"),
    );
    assert!(
        fs::read(d.path().join("iso-side.efi")).unwrap()
            == fs::read(live::sdboot("arm64").unwrap()).unwrap()
    );
}

/// Over 4 GiB: level-3 multi-extent records; 0xFFFFF800 is the first extent's length.
const SIZE: u64 = (4 << 30) + (16 << 20) + 4321;

/// A sparse squashfs stand-in: the magic (build-iso checks it), markers across the extent
/// boundary and at the end, holes elsewhere.
fn sparse_squashfs(path: &Path, tag: &[u8]) {
    let f = File::create(path).unwrap();
    f.set_len(SIZE).unwrap();
    f.write_all_at(b"hsqs", 0).unwrap();
    f.write_all_at(tag, 0xFFFF_F800 - 3).unwrap();
    f.write_all_at(tag, SIZE - tag.len() as u64).unwrap();
}

/// Runs build-iso and returns its peak RSS in KiB (wait4's rusage of that one child).
// The child is reaped by wait4, which std's Child does not know about.
#[allow(clippy::zombie_processes)]
fn peak_rss_kib(args: &[String]) -> i64 {
    let child = Command::new(live::BUILD_ISO)
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .stdout(Stdio::null())
        .spawn()
        .expect("run build-iso");
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 on our own child's pid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    assert_eq!(pid, child.id() as i32);
    assert!(
        std::process::ExitStatus::from_raw(status).success(),
        "build-iso failed"
    );
    ru.ru_maxrss
}

#[test]
fn squashfs_over_4gib_multi_extent_in_flat_memory() {
    if !have_tool("xorriso") {
        return;
    }
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sq: Vec<PathBuf> = ["x.img", "a.img"]
        .iter()
        .map(|n| d.path().join(n))
        .collect();
    sparse_squashfs(&sq[0], b"<x86_64-payload>");
    sparse_squashfs(&sq[1], b"<aarch64-payload>");
    let img = d.path().join("big.iso");
    let Some(a) = args([&sq[0], &sq[1]], &img, false) else {
        return;
    };
    let rss = peak_rss_kib(&a);
    assert!(rss < 64 << 10, "peak RSS {rss} KiB");
    eprintln!("build-iso: peak RSS {rss} KiB for 2 x {SIZE} bytes of squashfs");
    let img_s = img.display().to_string();
    for (name, src) in [("x86_64", &sq[0]), ("aarch64", &sq[1])] {
        let iso_path = format!("/LiveOS/squashfs-{name}.img");
        let (ok, out) = tool(
            "xorriso",
            &[
                "-indev",
                &img_s,
                "-find",
                &iso_path,
                "-exec",
                "report_sections",
                "--",
            ],
        );
        assert!(ok, "{out}");
        let sections = out
            .lines()
            .filter(|l| l.starts_with("File data lba:"))
            .count();
        assert_eq!(sections, 2, "{out}");
        let back = d.path().join(format!("{name}.back"));
        xorriso_extract(&img_s, &iso_path, &back);
        assert_eq!(fs::metadata(&back).unwrap().len(), SIZE);
        assert_eq!(content_digest(&back), content_digest(src), "{name}");
        fs::remove_file(&back).unwrap();
    }
    // The holes stayed holes.
    let allocated = fs::metadata(&img).unwrap().blocks() * 512;
    assert!(allocated < 256 << 20, "image allocates {allocated} bytes");
}
