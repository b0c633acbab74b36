//! build-iso input validation through the binary — exit code 1, the exact message naming the
//! file or argument, and no output (nor scratch) file left — plus what a good tar may look like
//! (gzip, zstd, several kernel versions) and the image's configuration files.
//!
//! Inputs are Debian's real systemd-boot and kernels (amd64, arm64) and mklive.sh's amd64
//! initramfs and squashfs; nothing here boots.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::live::{self, boot_tar, mklive, Compression};

const SD_X64: &str = "usr/lib/systemd/boot/efi/systemd-bootx64.efi";
const SD_AA64: &str = "usr/lib/systemd/boot/efi/systemd-bootaa64.efi";

struct Case {
    dir: tempfile::TempDir,
    live: live::Live,
    kver: String,
    sd_x64: PathBuf,
    sd_aa64: PathBuf,
    k_x64: PathBuf,
    k_aa64: PathBuf,
}

impl Case {
    fn new() -> Option<Case> {
        Some(Case {
            dir: tempfile::tempdir().unwrap(),
            live: mklive("amd64", "cli")?,
            kver: "6.12.0-test".into(),
            sd_x64: live::sdboot("amd64")?,
            sd_aa64: live::sdboot("arm64")?,
            k_x64: live::kernel("amd64")?,
            k_aa64: live::kernel("arm64")?,
        })
    }

    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn kernel_member(&self) -> String {
        format!("usr/lib/modules/{}/vmlinuz", self.kver)
    }

    fn initrd_member(&self) -> String {
        format!("usr/lib/modules/{}/initramfs.img", self.kver)
    }

    /// A tar `name` with the given (member, host file) pairs.
    fn tar(&self, name: &str, members: &[(&str, &Path)]) -> String {
        let out = self.p(name);
        boot_tar(Path::new(&out), Compression::None, members);
        out
    }

    /// A tar `name` with `kernel` under the kernel member, the live initramfs, and `sd` as the
    /// systemd-boot member `sd_member`: the good tar, or one with a single part swapped.
    fn boot_tar_with(&self, name: &str, kernel: &Path, sd_member: &str, sd: &Path) -> String {
        let (k, i) = (self.kernel_member(), self.initrd_member());
        self.tar(
            name,
            &[(&k, kernel), (&i, &self.live.initramfs), (sd_member, sd)],
        )
    }

    /// A good amd64 tar.
    fn good_tar(&self) -> String {
        self.boot_tar_with("good.tar", &self.k_x64, SD_X64, &self.sd_x64)
    }

    fn squashfs(&self) -> String {
        self.live.squashfs.display().to_string()
    }

    /// Run, expect failure with exactly `msg` (after "build-iso: error: "), and check that the
    /// directory holds no output or scratch file.
    fn fails(&self, args: &[&str], msg: &str) {
        let tool = (live::BUILD_ISO, "build-iso");
        common::refused(tool, self.dir.path(), args, &[], msg);
    }

    /// `fails` with `--arch ARCH:TAR:<the squashfs> o.iso`.
    fn fails_arch(&self, arch: &str, tar: &str, msg: &str) {
        let spec = format!("{arch}:{tar}:{}", self.squashfs());
        self.fails(&["--arch", &spec, &self.p("o.iso")], msg);
    }

    /// `fails` with the positional `TAR <the squashfs> o.iso`.
    fn fails_positional(&self, tar: &str, msg: &str) {
        self.fails(&[tar, &self.squashfs(), &self.p("o.iso")], msg);
    }
}

/// A tar with one part for another machine, or under another arch's name: the message names
/// the tar, the member and both machines.
#[test]
fn parts_of_another_arch() {
    let Some(c) = Case::new() else { return };
    let k = c.kernel_member();
    for (kernel, sd_member, sd, arch, why) in [
        (
            &c.k_x64,
            SD_AA64,
            &c.sd_aa64,
            "x86_64",
            format!(
                "{SD_AA64} is systemd-boot for aarch64 (0xaa64 (arm64)), but --arch x86_64 needs \
                 {SD_X64}"
            ),
        ),
        (
            &c.k_x64,
            SD_X64,
            &c.sd_aa64,
            "amd64",
            format!(
                "{SD_X64}: the systemd-boot is a PE for 0xaa64 (arm64) but --arch x86_64 needs \
                 0x8664 (amd64)"
            ),
        ),
        (
            &c.k_aa64,
            SD_X64,
            &c.sd_x64,
            "x86_64",
            format!(
                "{k}: the kernel is a PE for 0xaa64 (arm64) but --arch x86_64 needs 0x8664 (amd64)"
            ),
        ),
    ] {
        let tar = c.boot_tar_with("t.tar", kernel, sd_member, sd);
        c.fails_arch(arch, &tar, &format!("{tar}: {why}"));
    }
}

#[test]
fn kernel_that_is_not_a_pe() {
    let Some(c) = Case::new() else { return };
    // An initramfs where the kernel should be: a cpio archive, no MZ.
    let tar = c.boot_tar_with("t.tar", &c.live.initramfs, SD_X64, &c.sd_x64);
    let k = c.kernel_member();
    c.fails_positional(
        &tar,
        &format!(
            "{tar}: {k}: the kernel is not a PE image (no MZ signature); it must be an EFI image"
        ),
    );
}

#[test]
fn missing_kernel_initramfs_or_systemd_boot() {
    let Some(c) = Case::new() else { return };
    let (k, i) = (c.kernel_member(), c.initrd_member());
    let kver = &c.kver;
    let no_kernel = c.tar("a.tar", &[(&i, &c.live.initramfs), (SD_X64, &c.sd_x64)]);
    c.fails_positional(
        &no_kernel,
        &format!("{no_kernel}: no kernel for {kver} (expected usr/lib/modules/{kver}/vmlinuz)"),
    );
    let no_initrd = c.tar("b.tar", &[(&k, &c.k_x64), (SD_X64, &c.sd_x64)]);
    c.fails_positional(
        &no_initrd,
        &format!(
            "{no_initrd}: no initramfs for {kver} (expected usr/lib/modules/{kver}/initramfs.img)"
        ),
    );
    let no_sd = c.tar("c.tar", &[(&k, &c.k_x64), (&i, &c.live.initramfs)]);
    c.fails_arch(
        "x86_64",
        &no_sd,
        &format!("{no_sd}: no systemd-boot in the tar (expected {SD_X64})"),
    );
    c.fails_positional(
        &no_sd,
        &format!(
            "{no_sd}: no systemd-boot in the tar (expected \
             usr/lib/systemd/boot/efi/systemd-boot<x64|aa64|riscv64|loongarch64>.efi)"
        ),
    );
    let no_modules = c.tar("d.tar", &[(SD_X64, &c.sd_x64)]);
    c.fails_positional(
        &no_modules,
        &format!(
            "{no_modules}: no kernel in the tar (expected usr/lib/modules/<kver>/vmlinuz and \
             initramfs.img)"
        ),
    );
}

#[test]
fn squashfs_without_magic() {
    let Some(c) = Case::new() else { return };
    let tar = c.good_tar();
    c.fails(
        &[&tar, &tar, &c.p("o.iso")],
        &format!("squashfs {tar}: not a squashfs image (no \"hsqs\" magic at offset 0)"),
    );
    c.fails(
        &["--store", &tar, &tar, &c.squashfs(), &c.p("o.iso")],
        &format!("--store {tar}: not a squashfs image (no \"hsqs\" magic at offset 0)"),
    );
}

#[test]
fn duplicate_and_unknown_arch() {
    let Some(c) = Case::new() else { return };
    let tar = c.good_tar();
    let spec = |a: &str| format!("{a}:{tar}:{}", c.squashfs());
    c.fails(
        &[
            "--arch",
            &spec("x86_64"),
            "--arch",
            &spec("amd64"),
            &c.p("o.iso"),
        ],
        &format!("--arch x86_64: given twice ({tar} and {tar})"),
    );
    c.fails(
        &["--arch", &spec("sparc64"), &c.p("o.iso")],
        &format!(
            "--arch \"{}\": unknown architecture \"sparc64\" (expected x86_64, aarch64, riscv64 or \
             loongarch64; aliases amd64, arm64, loong64)",
            spec("sparc64")
        ),
    );
    c.fails(
        &["--arch", "x86_64", &c.p("o.iso")],
        "--arch \"x86_64\": expected ARCH:BOOT_TAR:SQUASHFS",
    );
    c.fails(
        &["--arch", &spec("x86_64"), &tar, &c.p("o.iso")],
        "build-iso: with --arch give only OUTPUT as a file argument",
    );
    c.fails(
        &[&tar, &c.p("o.iso")],
        "build-iso: without --arch give exactly BOOT_TAR SQUASHFS OUTPUT",
    );
}

#[test]
fn missing_or_unreadable_files() {
    let Some(c) = Case::new() else { return };
    let tar = c.good_tar();
    let missing = c.p("nope.tar");
    c.fails_positional(
        &missing,
        &format!("cannot open {missing}: No such file or directory (os error 2)"),
    );
    c.fails(
        &[&tar, &missing, &c.p("o.iso")],
        &format!("cannot open {missing}: No such file or directory (os error 2)"),
    );
    // Runs as root in CI, where permission bits do not stop reads: a directory is unreadable as
    // a file for everyone.
    let d = c.p("adir");
    fs::create_dir(&d).unwrap();
    c.fails_positional(
        &d,
        &format!("cannot read {d}: Is a directory (os error 21)"),
    );
    c.fails(
        &[&tar, &d, &c.p("o.iso")],
        &format!("squashfs {d}: not a regular file"),
    );
    // Not a tar at all (the squashfs).
    let sq = c.squashfs();
    let o = live::run(&[&sq, &sq, &c.p("o.iso")], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with(&format!(
            "build-iso: error: {sq}: not a readable tar archive"
        )),
        "{err}"
    );
}

#[test]
fn labels_iso9660_and_joliet_cannot_hold() {
    let Some(c) = Case::new() else { return };
    let tar = c.good_tar();
    for (label, why) in [
        (
            "DAKOTA_LIVE_IS_LONG",
            "longer than 16 characters (the Joliet volume label holds 16)",
        ),
        (
            "Dakota-Live",
            "ISO 9660 volume labels hold only A-Z, 0-9 and _ (d-characters)",
        ),
        ("", "empty"),
    ] {
        c.fails(
            &["-V", label, &tar, &c.squashfs(), &c.p("o.iso")],
            &format!("volume label {label:?}: {why}"),
        );
    }
}

/// Reads a file from the ESP (GPT partition 2) with mtools.
fn esp_file(img: &str, path: &str) -> String {
    let (first, _, _) = common::gpt_partition(Path::new(img), 2);
    let (ok, out) = common::tool(
        "mtype",
        &[
            "-i",
            &format!("{img}@@{}", first * 512),
            &format!("::{path}"),
        ],
    );
    assert!(ok, "mtype {path}: {out}");
    out
}

#[test]
fn gzip_zstd_newest_kernel_and_the_entries() {
    let Some(c) = Case::new() else { return };
    if !common::have_tool("zstd") || !common::have_tool("mtype") {
        return;
    }
    let (k, i) = (c.kernel_member(), c.initrd_member());
    // An older kernel version comes later in the tar and has no initramfs: never picked.
    let members: [(&str, &Path); 4] = [
        (&k, &c.k_x64),
        (&i, &c.live.initramfs),
        (SD_X64, &c.sd_x64),
        ("./usr/lib/modules/6.2.0-old/vmlinuz", &c.k_aa64),
    ];
    let mut images = Vec::new();
    for (n, comp) in [Compression::Gzip, Compression::Zstd]
        .into_iter()
        .enumerate()
    {
        let tar = c.p(&format!("boot{n}.tar.x"));
        boot_tar(Path::new(&tar), comp, &members);
        let out = c.p(&format!("o{n}.iso"));
        live::build(&[
            "-q",
            "--title",
            "Test OS",
            "--append",
            "quiet",
            "--arch",
            &format!("x86_64:{tar}:{}", c.squashfs()),
            &out,
        ]);
        images.push(out);
    }
    // The tar's compression is not in the image.
    assert_eq!(fs::read(&images[0]).unwrap(), fs::read(&images[1]).unwrap());
    let img = &images[0];
    assert_eq!(
        esp_file(img, "/loader/loader.conf"),
        "default dakota-live-*\ntimeout 1\n"
    );
    assert_eq!(
        esp_file(img, "/loader/entries/dakota-live-x86_64.conf"),
        format!(
            "title Test OS (x86_64)\nversion {}\narchitecture x64\nlinux /images/pxeboot/x86_64/vmlinuz\n\
             initrd /images/pxeboot/x86_64/initrd.img\noptions root=live:CDLABEL=DAKOTA_LIVE \
             rd.live.image rd.live.overlay.overlayfs=1 rd.live.squashimg=squashfs-x86_64.img \
             enforcing=0 console=ttyS0,115200n8 quiet\n",
            c.kver
        )
    );
    // The kernel of the newest version, byte for byte, in the ESP.
    let (first, _, _) = common::gpt_partition(Path::new(img), 2);
    let got = c.p("vmlinuz");
    let (ok, out) = common::tool(
        "mcopy",
        &[
            "-i",
            &format!("{img}@@{}", first * 512),
            "::/images/pxeboot/x86_64/vmlinuz",
            &got,
        ],
    );
    assert!(ok, "{out}");
    assert!(fs::read(&got).unwrap() == fs::read(&c.k_x64).unwrap());
}

/// `--sign-key/--sign-cert` sign systemd-boot and the kernel it loads, on the ESP and on the ISO
/// 9660 side alike; each verifies with `pectl verify --cert`. The encrypted key's password comes
/// from `--key-password-file`.
#[test]
fn sign_key_signs_systemd_boot_and_the_kernel() {
    let Some(c) = Case::new() else { return };
    if !common::have_tool("openssl") || !common::have_tool("mcopy") || !common::have_tool("xorriso")
    {
        return;
    }
    let d = c.dir.path();
    let pair = peln_tests::secureboot::fresh_key_pair(d, "peln-live-test");
    let enc = peln_tests::secureboot::encrypted(&pair, &d.join("enc.key"), "live-pw");
    let img = c.p("signed.iso");
    let tar = c.good_tar();
    live::build(&[
        "-q",
        "--sign-key",
        &enc.key.display().to_string(),
        "--sign-cert",
        &enc.cert.display().to_string(),
        "--key-password-file",
        &enc.password_file.unwrap().display().to_string(),
        "--arch",
        &format!("x86_64:{tar}:{}", c.squashfs()),
        &img,
    ]);
    for (i, path) in ["/EFI/BOOT/BOOTX64.EFI", "/images/pxeboot/x86_64/vmlinuz"]
        .into_iter()
        .enumerate()
    {
        let (esp, iso) = (d.join(format!("esp{i}")), d.join(format!("iso{i}")));
        common::esp_copy(&img, path, &esp);
        common::xorriso_extract(&img, path, &iso);
        assert!(common::verifies_with(&esp, &pair.cert), "{path} on the ESP");
        assert_eq!(fs::read(&esp).unwrap(), fs::read(&iso).unwrap(), "{path}");
    }
}
