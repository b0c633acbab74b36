//! `build-iso`: a live-OS image from, per arch, a boot-files tar (systemd-boot, kernel, initramfs)
//! and a squashfs root. The image is the same hybrid ISO 9660 + El Torito + GPT/ESP that
//! `cloud-boot-iso` writes ([`crate::write_image`]); this module only reads the inputs, checks
//! them and decides what goes where:
//!
//! ```text
//! ESP  EFI/BOOT/BOOT<ARCH>.EFI            systemd-boot of each arch
//!      loader/loader.conf                 default <name>-* (every arch's entry), short timeout
//!      loader/entries/<name>-<arch>.conf  one BLS entry per arch, with `architecture <efi arch>`
//!      images/pxeboot/<arch>/vmlinuz      in the ESP: systemd-boot loads kernels only from
//!      images/pxeboot/<arch>/initrd.img   its own partition
//! ISO  LiveOS/squashfs-<arch>.img         (single-arch form: LiveOS/squashfs.img)
//!      LiveOS/store.squashfs.img          with --store
//!      images/pxeboot/…, EFI/BOOT/…       copies, for loaders that read the ISO 9660 side
//! ```
//!
//! `<arch>` is the kernel's name (`uname -m`: x86_64, aarch64, riscv64, loongarch64), as in the
//! dmsquash-live world this follows. The boot-files tar is read once, streaming (plain, gzip or
//! zstd, told apart by content); the three members are copied to a scratch directory beside the
//! output, so the image writer streams them like any other file.

use std::cmp::Ordering;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::arch::{machine_name, Arch};
use crate::error::{Error, Result};
use crate::esp::{EspData, EspFile};
use crate::tree::{AddSpec, Tree};
use crate::{pe, Image, Report};

pub const DEFAULT_LABEL: &str = "DAKOTA_LIVE";

/// Kernel options every entry gets after the live-boot ones, unless `--options` replaces them.
pub fn default_extra_options(arch: Arch) -> String {
    let console = match arch {
        Arch::Arm64 => "ttyAMA0",
        _ => "ttyS0",
    };
    format!("enforcing=0 console={console},115200n8")
}

/// The kernel's name of an arch (`uname -m`), used in the image's paths and entry names.
pub fn uname(arch: Arch) -> &'static str {
    match arch {
        Arch::Amd64 => "x86_64",
        Arch::Arm64 => "aarch64",
        Arch::Riscv64 => "riscv64",
        Arch::Loongarch64 => "loongarch64",
    }
}

/// systemd's name of an arch: the suffix of `systemd-boot<…>.efi` and the value of a BLS entry's
/// `architecture` key (EFI_MACHINE_TYPE_NAME).
pub fn efi_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::Amd64 => "x64",
        Arch::Arm64 => "aa64",
        Arch::Riscv64 => "riscv64",
        Arch::Loongarch64 => "loongarch64",
    }
}

/// One arch's inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveArch {
    /// `None` in the single-arch form: the arch is the one of the tar's systemd-boot.
    pub arch: Option<Arch>,
    pub boot_tar: PathBuf,
    pub squashfs: PathBuf,
}

impl LiveArch {
    /// `ARCH:BOOT_TAR:SQUASHFS`. The tar path runs to the last ':', so only the squashfs path
    /// may not contain one.
    pub fn parse(spec: &OsStr) -> Result<LiveArch> {
        let b = spec.as_bytes();
        let shown = spec.to_string_lossy().into_owned();
        let bad = |reason: &str| Error::Usage {
            what: format!("--arch {shown:?}"),
            reason: reason.into(),
        };
        let (Some(first), Some(last)) = (
            b.iter().position(|&c| c == b':'),
            b.iter().rposition(|&c| c == b':'),
        ) else {
            return Err(bad("expected ARCH:BOOT_TAR:SQUASHFS"));
        };
        if first == last || first == 0 || last == first + 1 || last + 1 == b.len() {
            return Err(bad("expected ARCH:BOOT_TAR:SQUASHFS"));
        }
        let name = String::from_utf8_lossy(&b[..first]).into_owned();
        let arch = Arch::from_name(&name).ok_or_else(|| {
            bad(&format!(
                "unknown architecture {name:?} (expected x86_64, aarch64, riscv64 or loongarch64; \
                 aliases amd64, arm64, loong64)"
            ))
        })?;
        Ok(LiveArch {
            arch: Some(arch),
            boot_tar: PathBuf::from(OsStr::from_bytes(&b[first + 1..last])),
            squashfs: PathBuf::from(OsStr::from_bytes(&b[last + 1..])),
        })
    }
}

/// Kernel options beyond the live-boot ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Replaces [`default_extra_options`] for every arch.
    pub replace: Option<String>,
    /// Appended after the others.
    pub append: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct LiveConfig {
    pub arches: Vec<LiveArch>,
    pub store: Option<PathBuf>,
    pub output: PathBuf,
    pub label: String,
    /// Entry title; " (<arch>)" is appended.
    pub title: Option<String>,
    pub options: Options,
    pub source_date_epoch: u64,
    pub progress: bool,
    /// Sign systemd-boot and the kernels for Secure Boot (`--sign-key/--sign-cert`).
    pub sign: Option<crate::sign::SignArgs>,
}

/// A label the image stores exactly, so that `root=live:CDLABEL=` finds it: ISO 9660
/// d-characters (A–Z, 0–9, _) in the primary descriptor, and at most 16 characters, all the Joliet
/// descriptor holds (Linux's blkid reports the Joliet label when there is one).
pub fn check_live_label(label: &str) -> Result {
    crate::check_label(label)?;
    let bad = |reason: &str| Error::BadLabel {
        label: label.into(),
        reason: reason.into(),
    };
    if label.len() > 16 {
        return Err(bad(
            "longer than 16 characters (the Joliet volume label holds 16)",
        ));
    }
    if !label
        .bytes()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
    {
        return Err(bad(
            "ISO 9660 volume labels hold only A-Z, 0-9 and _ (d-characters)",
        ));
    }
    Ok(())
}

/// `DAKOTA_LIVE` → `dakota-live` (entry file names), `Dakota Live` (titles).
fn entry_name(label: &str) -> String {
    label.to_ascii_lowercase().replace('_', "-")
}

fn default_title(label: &str) -> String {
    label
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut c = lower.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Compare kernel versions as `sort -V` does: runs of digits by value, other runs bytewise.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    fn runs(s: &str) -> Vec<(bool, &str)> {
        let mut v = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                v.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        v
    }
    let (ra, rb) = (runs(a), runs(b));
    for (x, y) in ra.iter().zip(&rb) {
        let o = match (x.0, y.0) {
            (true, true) => {
                let (tx, ty) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
            }
            _ => x.1.cmp(y.1),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ra.len().cmp(&rb.len())
}

/// The three files a boot-files tar provides, copied out.
#[derive(Debug)]
pub struct BootFiles {
    pub arch: Arch,
    pub kver: String,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub sdboot: PathBuf,
}

const MODULES: &str = "usr/lib/modules/";
const SDBOOT_DIR: &str = "usr/lib/systemd/boot/efi/";

/// Opens a tar that may be compressed: gzip and zstd are recognised by their magic numbers.
fn open_tar(path: &Path) -> Result<tar::Archive<Box<dyn Read>>> {
    let f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut r = BufReader::with_capacity(1 << 16, f);
    let head = r.fill_buf().map_err(|e| Error::io("read", path, e))?;
    let reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(
            ruzstd::decoding::StreamingDecoder::new(r).map_err(|e| Error::Input {
                subject: path.display().to_string(),
                reason: format!("not a readable zstd stream ({e})"),
            })?,
        )
    } else {
        Box::new(r)
    };
    Ok(tar::Archive::new(reader))
}

/// Reads `tar_path` once and copies its kernel, initramfs (newest `<kver>`) and systemd-boot into
/// `scratch`. `want` is the `--arch` given, or `None` in the single-arch form (then the arch of
/// the one systemd-boot in the tar).
pub fn read_boot_tar(tar_path: &Path, want: Option<Arch>, scratch: &Path) -> Result<BootFiles> {
    let tar_err = |e: std::io::Error| Error::Input {
        subject: tar_path.display().to_string(),
        reason: format!("not a readable tar archive ({e})"),
    };
    let mut archive = open_tar(tar_path)?;
    // (kver, kernel?, initrd?) for each kernel directory seen; systemd-boot (efi arch, file).
    let mut kvers: Vec<(String, Option<PathBuf>, Option<PathBuf>)> = Vec::new();
    let mut sdboots: Vec<(Arch, String, PathBuf)> = Vec::new();
    let mut n = 0;
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw);
        let name = name.trim_start_matches("./").trim_start_matches('/');
        let (is_kernel, is_initrd, sd) = match name.strip_prefix(MODULES) {
            Some(rest) => match rest.split_once('/') {
                Some((kver, "vmlinuz")) if !kver.is_empty() => (Some(kver), false, None),
                Some((kver, "initramfs.img")) if !kver.is_empty() => (Some(kver), true, None),
                _ => continue,
            },
            None => match name
                .strip_prefix(SDBOOT_DIR)
                .and_then(|f| f.strip_prefix("systemd-boot"))
                .and_then(|f| f.strip_suffix(".efi"))
            {
                Some(efi) => match Arch::ALL.into_iter().find(|&a| efi_arch(a) == efi) {
                    Some(a) => (None, false, Some(a)),
                    None => continue,
                },
                None => continue,
            },
        };
        let member = name.to_string();
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(Error::Input {
                subject: format!("{}: {member}", tar_path.display()),
                reason: format!(
                    "is a {kind:?} entry; the boot files must be regular files in the tar"
                ),
            });
        }
        n += 1;
        let dest = scratch.join(format!("{n}"));
        let mut out = File::create(&dest).map_err(|e| Error::io("create", &dest, e))?;
        // Not io::copy: a full disk must be reported as a write error, not as a bad tar.
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(tar_err(e)),
            };
            out.write_all(&buf[..n])
                .map_err(|e| Error::io("write", &dest, e))?;
        }
        if let Some(a) = sd {
            sdboots.push((a, member, dest));
            continue;
        }
        let kver = is_kernel.unwrap().to_string();
        let slot = match kvers.iter().position(|k| k.0 == kver) {
            Some(i) => i,
            None => {
                kvers.push((kver, None, None));
                kvers.len() - 1
            }
        };
        if is_initrd {
            kvers[slot].2 = Some(dest);
        } else {
            kvers[slot].1 = Some(dest);
        }
    }

    let in_tar = |what: &str| Error::Input {
        subject: tar_path.display().to_string(),
        reason: what.into(),
    };
    // systemd-boot: exactly the one of the wanted arch.
    let arch = match want {
        Some(a) => a,
        None => match sdboots.as_slice() {
            [(a, ..)] => *a,
            [] => {
                return Err(in_tar(&format!(
                    "no systemd-boot in the tar (expected {SDBOOT_DIR}systemd-boot<x64|aa64|riscv64|loongarch64>.efi)"
                )))
            }
            _ => {
                return Err(in_tar(&format!(
                    "holds systemd-boot for several arches ({}): use --arch ARCH:{}:SQUASHFS",
                    sdboots.iter().map(|s| uname(s.0)).collect::<Vec<_>>().join(", "),
                    tar_path.display()
                )))
            }
        },
    };
    let want_name = format!("{SDBOOT_DIR}systemd-boot{}.efi", efi_arch(arch));
    let Some((_, member, sdboot)) = sdboots.iter().find(|s| s.0 == arch) else {
        return Err(match sdboots.first() {
            Some((other, member, _)) => in_tar(&format!(
                "{member} is systemd-boot for {} ({}), but --arch {} needs {want_name}",
                uname(*other),
                machine_name(other.pe_machine()),
                uname(arch)
            )),
            None => in_tar(&format!(
                "no systemd-boot in the tar (expected {want_name})"
            )),
        });
    };
    check_pe(tar_path, member, sdboot, arch, "systemd-boot")?;

    // Kernel and initramfs of the newest kernel version.
    kvers.sort_by(|a, b| version_cmp(&a.0, &b.0));
    let Some((kver, kernel, initrd)) = kvers.pop() else {
        return Err(in_tar(&format!(
            "no kernel in the tar (expected {MODULES}<kver>/vmlinuz and initramfs.img)"
        )));
    };
    let Some(kernel) = kernel else {
        return Err(in_tar(&format!(
            "no kernel for {kver} (expected {MODULES}{kver}/vmlinuz)"
        )));
    };
    let Some(initrd) = initrd else {
        return Err(in_tar(&format!(
            "no initramfs for {kver} (expected {MODULES}{kver}/initramfs.img)"
        )));
    };
    check_pe(
        tar_path,
        &format!("{MODULES}{kver}/vmlinuz"),
        &kernel,
        arch,
        "kernel",
    )?;
    Ok(BootFiles {
        arch,
        kver,
        kernel,
        initrd,
        sdboot: sdboot.clone(),
    })
}

/// A tar member (copied to `file`) must be a PE32+ EFI image for `arch`: systemd-boot is one, and
/// so is a kernel with the EFI stub, which is how systemd-boot starts it.
fn check_pe(tar: &Path, member: &str, file: &Path, arch: Arch, what: &str) -> Result {
    let reason = match pe::validate(file, arch) {
        Ok(_) => return Ok(()),
        Err(Error::WrongMachine { found, .. }) => format!(
            "the {what} is a PE for {} but --arch {} needs {}",
            machine_name(found),
            uname(arch),
            machine_name(arch.pe_machine())
        ),
        Err(Error::NotPe { reason, .. }) => {
            format!("the {what} is not a PE image ({reason}); it must be an EFI image")
        }
        Err(Error::NotPe32Plus { magic, .. }) => {
            format!("the {what} is not a PE32+ image (optional header magic {magic:#06x})")
        }
        Err(Error::NotEfi { subsystem, .. }) => {
            format!("the {what} has PE subsystem {subsystem}, not an EFI image")
        }
        Err(e) => return Err(e),
    };
    Err(Error::Input {
        subject: format!("{}: {member}", tar.display()),
        reason,
    })
}

/// A squashfs image starts with the magic "hsqs" (little-endian 0x73717368).
pub fn check_squashfs(path: &Path, what: &str) -> Result<u64> {
    let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let meta = f.metadata().map_err(|e| Error::io("read", path, e))?;
    if !meta.is_file() {
        return Err(Error::Input {
            subject: format!("{what} {}", path.display()),
            reason: "not a regular file".into(),
        });
    }
    let mut magic = [0u8; 4];
    let got = f.read(&mut magic).map_err(|e| Error::io("read", path, e))?;
    if got < 4 || &magic != b"hsqs" {
        return Err(Error::Input {
            subject: format!("{what} {}", path.display()),
            reason: "not a squashfs image (no \"hsqs\" magic at offset 0)".into(),
        });
    }
    Ok(meta.len())
}

fn add(tree: &mut Tree, iso_path: &str, host: &Path) -> Result {
    let mut spec = OsString::from(format!("{iso_path}="));
    spec.push(host.as_os_str());
    tree.add(&AddSpec::parse(&spec)?)
}

/// Build the live image described by `cfg`; nothing is left at `cfg.output` on error.
pub fn build(cfg: &LiveConfig) -> Result<Report> {
    if cfg.arches.is_empty() {
        return Err(Error::Usage {
            what: "build-iso".into(),
            reason: "no inputs: give BOOT_TAR SQUASHFS OUTPUT or --arch ARCH:BOOT_TAR:SQUASHFS"
                .into(),
        });
    }
    check_live_label(&cfg.label)?;
    let single = cfg.arches.len() == 1 && cfg.arches[0].arch.is_none();
    for (i, a) in cfg.arches.iter().enumerate() {
        if let Some(prev) = cfg.arches[..i]
            .iter()
            .find(|p| p.arch.is_some() && p.arch == a.arch)
        {
            return Err(Error::Usage {
                what: format!("--arch {}", uname(a.arch.unwrap())),
                reason: format!(
                    "given twice ({} and {})",
                    prev.boot_tar.display(),
                    a.boot_tar.display()
                ),
            });
        }
    }
    for a in &cfg.arches {
        check_squashfs(&a.squashfs, "squashfs")?;
    }
    if let Some(s) = &cfg.store {
        check_squashfs(s, "--store")?;
    }
    let inputs: Vec<&Path> = cfg
        .arches
        .iter()
        .flat_map(|a| [a.boot_tar.as_path(), a.squashfs.as_path()])
        .chain(cfg.store.as_deref())
        .collect();
    if let Some(input) = peln_pe::output::output_is_input(&cfg.output, &inputs) {
        return Err(Error::OutputIsInput {
            output: cfg.output.clone(),
            input: input.to_path_buf(),
        });
    }

    // The boot files, checked; ordered by arch so argument order does not change the image.
    // Scratch space beside the output: same filesystem, so no tmpfs fills up with kernels.
    let dir = match cfg.output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Named after the output, so an error about a scratch file says which build it was.
    let name = cfg
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let scratch = tempfile::Builder::new()
        .prefix(&format!(".{name}.parts-"))
        .tempdir_in(dir)
        .map_err(|e| Error::io("create a scratch directory in", dir, e))?;
    let signer = cfg
        .sign
        .as_ref()
        .map(crate::sign::EfiSigner::load)
        .transpose()?;
    let mut arches = Vec::new();
    for (i, a) in cfg.arches.iter().enumerate() {
        let sub = scratch.path().join(i.to_string());
        std::fs::create_dir(&sub).map_err(|e| Error::io("create", &sub, e))?;
        let boot = read_boot_tar(&a.boot_tar, a.arch, &sub)?;
        // The scratch copies are signed in place, so the ESP and the ISO 9660 tree hold the
        // same signed files.
        if let Some(s) = &signer {
            for efi in [&boot.sdboot, &boot.kernel] {
                let signed = s.sign(efi)?;
                std::fs::write(efi, signed).map_err(|e| Error::io("write", efi, e))?;
            }
        }
        arches.push((boot, a));
    }
    arches.sort_by_key(|(b, _)| b.arch);
    // Now: every input is what its place in the image needs.

    let name = entry_name(&cfg.label);
    let title = cfg
        .title
        .clone()
        .unwrap_or_else(|| default_title(&cfg.label));
    let mut esp = Vec::new();
    let mut tree = Tree::new();
    let host = |p: &Path| -> Result<EspData> {
        let size = std::fs::metadata(p)
            .map_err(|e| Error::io("read", p, e))?
            .len();
        Ok(EspData::Host {
            path: p.to_path_buf(),
            size,
        })
    };
    for (b, _) in &arches {
        let path = format!("EFI/BOOT/{}", b.arch.efi_boot_file());
        add(&mut tree, &path, &b.sdboot)?;
        esp.push(EspFile {
            path,
            data: host(&b.sdboot)?,
        });
    }
    esp.push(EspFile {
        path: "loader/loader.conf".into(),
        // The default is a glob over the entry ids, so each arch's systemd-boot, which lists
        // only its own entry, boots it.
        data: EspData::Bytes(format!("default {name}-*\ntimeout 1\n").into_bytes()),
    });
    for (b, a) in &arches {
        let u = uname(b.arch);
        let squash = if single {
            "squashfs.img".to_string()
        } else {
            format!("squashfs-{u}.img")
        };
        let extra = cfg
            .options
            .replace
            .clone()
            .unwrap_or_else(|| default_extra_options(b.arch));
        let mut options = format!(
            "root=live:CDLABEL={} rd.live.image rd.live.overlay.overlayfs=1 rd.live.squashimg={squash} {extra}",
            cfg.label
        );
        for more in &cfg.options.append {
            options.push(' ');
            options.push_str(more);
        }
        let entry = format!(
            "title {title} ({u})\nversion {kver}\narchitecture {efi}\nlinux /images/pxeboot/{u}/vmlinuz\n\
             initrd /images/pxeboot/{u}/initrd.img\noptions {}\n",
            options.trim_end(),
            kver = b.kver,
            efi = efi_arch(b.arch),
        );
        esp.push(EspFile {
            path: format!("loader/entries/{name}-{u}.conf"),
            data: EspData::Bytes(entry.into_bytes()),
        });
        add(&mut tree, &format!("LiveOS/{squash}"), &a.squashfs)?;
    }
    for (b, _) in &arches {
        let u = uname(b.arch);
        for (file, src) in [("vmlinuz", &b.kernel), ("initrd.img", &b.initrd)] {
            let path = format!("images/pxeboot/{u}/{file}");
            add(&mut tree, &path, src)?;
            esp.push(EspFile {
                path,
                data: host(src)?,
            });
        }
    }
    if let Some(s) = &cfg.store {
        add(&mut tree, "LiveOS/store.squashfs.img", s)?;
    }
    // `scratch` (the tar members) lives until the image is written.
    crate::write_image(&Image {
        esp,
        tree,
        arches: arches.iter().map(|(b, _)| b.arch).collect(),
        output: cfg.output.clone(),
        volume_label: cfg.label.clone(),
        source_date_epoch: cfg.source_date_epoch,
        progress: cfg.progress,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_specs() {
        let a = LiveArch::parse(OsStr::new("amd64:/a/boot.tar:/b/sq.img")).unwrap();
        assert_eq!(a.arch, Some(Arch::Amd64));
        assert_eq!(a.boot_tar, Path::new("/a/boot.tar"));
        assert_eq!(a.squashfs, Path::new("/b/sq.img"));
        // The tar path runs to the last ':'.
        let a = LiveArch::parse(OsStr::new("loong64:x:y.tar:z")).unwrap();
        assert_eq!(a.arch, Some(Arch::Loongarch64));
        assert_eq!(a.boot_tar, Path::new("x:y.tar"));
        for bad in ["x86_64", "x86_64:a", ":a:b", "x86_64::b", "x86_64:a:"] {
            assert!(LiveArch::parse(OsStr::new(bad)).is_err(), "{bad}");
        }
        assert_eq!(
            LiveArch::parse(OsStr::new("mips:a:b"))
                .unwrap_err()
                .to_string(),
            "--arch \"mips:a:b\": unknown architecture \"mips\" (expected x86_64, aarch64, riscv64 \
             or loongarch64; aliases amd64, arm64, loong64)"
        );
    }

    #[test]
    fn kernel_versions_sort_like_sort_v() {
        let mut v = [
            "6.12.9-amd64",
            "6.12.10-amd64",
            "6.9.1",
            "7.2.13+deb14-loong64",
            "6.12.10",
        ];
        v.sort_by(|a, b| version_cmp(a, b));
        assert_eq!(
            v,
            [
                "6.9.1",
                "6.12.9-amd64",
                "6.12.10",
                "6.12.10-amd64",
                "7.2.13+deb14-loong64"
            ]
        );
    }

    #[test]
    fn labels_names_titles() {
        assert!(check_live_label("DAKOTA_LIVE").is_ok());
        assert!(check_live_label("A234567890123456").is_ok());
        assert!(check_live_label("A2345678901234567").is_err());
        assert!(check_live_label("dakota").is_err());
        assert!(check_live_label("DAKOTA LIVE").is_err());
        assert!(check_live_label("").is_err());
        assert_eq!(entry_name("DAKOTA_LIVE"), "dakota-live");
        assert_eq!(default_title("DAKOTA_LIVE"), "Dakota Live");
    }
}
