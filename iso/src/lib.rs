//! `cloud-boot-iso`: one hybrid image that boots per-arch UEFI programs on x86_64, arm64,
//! riscv64 and loongarch64, as a CD (El Torito) and as a disk (GPT).
//!
//! The driver below only sequences the phases; each module owns one format:
//! `pe` (input checks), `tree` (the `--add` file tree), `iso9660` (ISO 9660 + Rock Ridge +
//! Joliet + El Torito), `esp` (the FAT16/FAT32 ESP), `gpt` (protective MBR + GPT), `io`
//! (streaming copies and the progress line).

pub mod arch;
pub mod error;
pub mod esp;
pub mod gpt;
pub mod io;
pub mod iso9660;
pub mod live;
pub mod pe;
pub mod sign;
pub mod time;
pub mod tree;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use arch::Arch;
pub use error::{Error, Result};
pub use esp::FatType;

use crate::esp::{EspData, EspFile, MIB};
use crate::gpt::{Gpt, Partition};
use crate::io::Progress;
use crate::iso9660::{Layout, VolumeParams, BLOCK};
use crate::time::Civil;
use crate::tree::{AddSpec, Kind, Tree};

pub const DEFAULT_LABEL: &str = "CLOUD_BOOT";
/// The ESP starts on a 1 MiB boundary: partition-aligned for disk tools, and a whole number of
/// 2 KiB CD blocks for El Torito.
const ESP_ALIGN: u64 = MIB;
/// Backup GPT (32 entry sectors + header) padded to whole 2 KiB blocks, so a CD drive sees the
/// whole image.
const TAIL: u64 = 36 * gpt::SECTOR;

/// One `--uki linux/<arch>=<path>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uki {
    pub arch: Arch,
    pub path: PathBuf,
}

impl Uki {
    pub fn parse(spec: &OsStr) -> Result<Uki> {
        let shown = spec.to_string_lossy().into_owned();
        let b = spec.as_bytes();
        let eq = b.iter().position(|&c| c == b'=').ok_or(Error::UkiSyntax {
            spec: shown.clone(),
        })?;
        let (key, path) = (&b[..eq], &b[eq + 1..]);
        let arch = key.strip_prefix(b"linux/").ok_or(Error::UkiSyntax {
            spec: shown.clone(),
        })?;
        if path.is_empty() || arch.is_empty() {
            return Err(Error::UkiSyntax { spec: shown });
        }
        let arch_s = String::from_utf8_lossy(arch).into_owned();
        let arch = Arch::from_name(&arch_s).ok_or(Error::UnknownArch {
            spec: shown,
            arch: arch_s,
        })?;
        Ok(Uki {
            arch,
            path: PathBuf::from(OsStr::from_bytes(path)),
        })
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub ukis: Vec<Uki>,
    pub adds: Vec<AddSpec>,
    pub output: PathBuf,
    pub volume_label: String,
    /// Seconds since the Unix epoch for every timestamp in the image.
    pub source_date_epoch: u64,
    /// Draw a progress line on a terminal for long writes.
    pub progress: bool,
    /// Sign every UKI for Secure Boot (`--sign-key/--sign-cert`).
    pub sign: Option<sign::SignArgs>,
}

impl Config {
    /// A config from raw `--uki` / `--add` values, reading SOURCE_DATE_EPOCH from the environment.
    pub fn from_args(
        ukis: &[OsString],
        adds: &[OsString],
        output: PathBuf,
        volume_label: Option<String>,
    ) -> Result<Config> {
        Ok(Config {
            ukis: ukis.iter().map(|s| Uki::parse(s)).collect::<Result<_>>()?,
            adds: adds
                .iter()
                .map(|s| AddSpec::parse(s))
                .collect::<Result<_>>()?,
            output,
            volume_label: volume_label.unwrap_or_else(|| DEFAULT_LABEL.into()),
            source_date_epoch: time::source_date_epoch()?,
            progress: true,
            sign: None,
        })
    }
}

/// What was built, for the CLI's summary line and for tests.
#[derive(Clone, Debug)]
pub struct Report {
    pub output: PathBuf,
    pub image_bytes: u64,
    pub esp_offset: u64,
    pub esp_bytes: u64,
    pub fat_type: FatType,
    pub arches: Vec<Arch>,
    pub files: usize,
    pub disk_guid: String,
}

/// Check a volume label: the Joliet copy holds 16 UCS-2 characters, the primary 32 d-characters.
pub fn check_label(label: &str) -> Result {
    let bad = |reason: &str| Error::BadLabel {
        label: label.into(),
        reason: reason.into(),
    };
    if label.is_empty() {
        return Err(bad("empty"));
    }
    if label.len() > 32 {
        return Err(bad("longer than 32 characters"));
    }
    if !label.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(bad("only printable ASCII is allowed"));
    }
    Ok(())
}

/// Build the image described by `cfg`. On any error nothing is left at `cfg.output` (the
/// temporary file is removed when dropped).
pub fn build(cfg: &Config) -> Result<Report> {
    // Inputs: every UKI is a PE32+ EFI image for its own arch, one per arch.
    if cfg.ukis.is_empty() {
        return Err(Error::NoInputs);
    }
    check_label(&cfg.volume_label)?;
    let mut ukis = cfg.ukis.clone();
    ukis.sort_by_key(|u| u.arch);
    for w in ukis.windows(2) {
        if w[0].arch == w[1].arch {
            // Report in the user's order.
            let (first, second) = {
                let mut same = cfg.ukis.iter().filter(|u| u.arch == w[0].arch);
                (same.next().unwrap(), same.next().unwrap())
            };
            return Err(Error::DuplicateArch {
                arch: w[0].arch,
                first: first.path.clone(),
                second: second.path.clone(),
            });
        }
    }
    let signer = cfg.sign.as_ref().map(sign::EfiSigner::load).transpose()?;
    let mut esp = Vec::new();
    for u in &ukis {
        let info = pe::validate(&u.path, u.arch)?;
        let data = match &signer {
            Some(s) => EspData::Bytes(s.sign(&u.path)?),
            None => EspData::Host {
                path: u.path.clone(),
                size: info.size,
            },
        };
        esp.push(EspFile {
            path: format!("EFI/BOOT/{}", u.arch.efi_boot_file()),
            data,
        });
    }
    // A `--add` directory is not compared: the image replaces a file, never a directory.
    let inputs: Vec<&Path> = ukis
        .iter()
        .map(|u| u.path.as_path())
        .chain(cfg.adds.iter().map(|a| a.host.as_path()))
        .collect();
    if let Some(input) = peln_pe::output::output_is_input(&cfg.output, &inputs) {
        return Err(Error::OutputIsInput {
            output: cfg.output.clone(),
            input: input.to_path_buf(),
        });
    }
    // Now: inputs are valid and ordered by arch (ESP layout does not depend on argument order).

    let mut tree = Tree::new();
    for a in &cfg.adds {
        tree.add(a)?;
    }
    write_image(&Image {
        esp,
        tree,
        arches: ukis.iter().map(|u| u.arch).collect(),
        output: cfg.output.clone(),
        volume_label: cfg.volume_label.clone(),
        source_date_epoch: cfg.source_date_epoch,
        progress: cfg.progress,
    })
}

/// Everything one hybrid image holds, checked: what both binaries hand to [`write_image`].
pub struct Image {
    /// ESP files in the order their clusters are given.
    pub esp: Vec<EspFile>,
    /// The ISO 9660 side.
    pub tree: Tree,
    /// The arches the image boots, for the report.
    pub arches: Vec<Arch>,
    pub output: PathBuf,
    pub volume_label: String,
    pub source_date_epoch: u64,
    pub progress: bool,
}

/// Lay out and write `img` to a temporary file beside `img.output`, then rename it into place.
/// On any error nothing is left at `img.output`.
pub fn write_image(img: &Image) -> Result<Report> {
    check_label(&img.volume_label)?;
    let tree = &img.tree;

    // Phase 1: sizes and places.
    let esp_total: u64 = img.esp.iter().map(|f| f.size()).sum();
    let esp_bytes = esp::esp_size(esp_total).ok_or_else(|| Error::TooLarge {
        what: "ESP size overflows".into(),
    })?;
    let when = Civil::from_unix(img.source_date_epoch);
    let layout = Layout::compute(tree, when)?;
    let esp_offset = (layout.data_end * BLOCK).next_multiple_of(ESP_ALIGN);
    let volume_end = esp_offset + esp_bytes;
    let image_bytes = volume_end + TAIL;
    let space_blocks = u32::try_from(volume_end / BLOCK).map_err(|_| Error::TooLarge {
        what: "ISO volume beyond 2^32 blocks (8 TiB)".into(),
    })?;
    let esp_block = (esp_offset / BLOCK) as u32;
    // Now: every byte of the image has a place; nothing has been written.

    // Phase 2: output file, in the destination directory so the final rename is atomic.
    if img.output.is_dir() {
        return Err(Error::io(
            "write output",
            &img.output,
            std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
        ));
    }
    let tmp = peln_pe::output::Staged::new(&img.output).map_err(|e| {
        let dir = match img.output.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        Error::io("create a temporary output file in", dir, e)
    })?;
    let out: &File = tmp.file();
    let tmp_path = tmp.path().to_path_buf();
    let werr = |e| Error::io("write", &tmp_path, e);
    out.set_len(image_bytes).map_err(werr)?;

    // Phase 3: ISO metadata, payload, ESP. The hash of what defines the image seeds the GUIDs.
    let mut seed = Sha256::new();
    let meta = layout.metadata(
        tree,
        &VolumeParams {
            label: &img.volume_label,
            space_blocks,
            esp_block,
            esp_bytes,
            when,
        },
    );
    seed.update(&meta);
    out.write_all_at(&meta, 16 * BLOCK).map_err(werr)?;

    let payload: u64 = tree
        .files_dfs()
        .iter()
        .map(|&f| match &tree.nodes[f].kind {
            Kind::File { size, .. } => *size,
            Kind::Dir { .. } => 0,
        })
        .sum();
    let label = format!("writing {}", img.output.display());
    let mut progress = Progress::new(&label, payload + esp_total, img.progress);
    for f in tree.files_dfs() {
        let Kind::File { host, size } = &tree.nodes[f].kind else {
            unreachable!()
        };
        let src = File::open(host).map_err(|e| Error::io("open", host, e))?;
        io::copy_sparse(
            &src,
            host,
            *size,
            out,
            &tmp_path,
            layout.file_offset(f),
            &mut progress,
        )?;
    }
    let fat_type = esp::write_esp(
        out,
        &tmp_path,
        esp_offset,
        esp_bytes,
        &img.esp,
        img.source_date_epoch,
        &mut seed,
        &mut progress,
    )?
    .fat_type;
    progress.finish();
    let seed: [u8; 32] = seed.finalize().into();
    // Now: blocks 16.. hold the ISO volume and the ESP; the system area and tail are zeros.
    // Phase 4: protective MBR and both GPT copies.
    let g = Gpt {
        disk_guid: gpt::derived_guid(&seed, "disk"),
        total_lba: image_bytes / gpt::SECTOR,
        partitions: vec![
            Partition {
                type_guid: gpt::TYPE_BASIC_DATA,
                guid: gpt::derived_guid(&seed, "iso9660"),
                // LBA 64 = byte 32768: the volume descriptors, right after the GPT's own sectors.
                first_lba: 64,
                last_lba: esp_offset / gpt::SECTOR - 1,
                attributes: gpt::ATTR_READ_ONLY,
                name: "ISO9660",
            },
            Partition {
                type_guid: gpt::TYPE_ESP,
                guid: gpt::derived_guid(&seed, "esp"),
                first_lba: esp_offset / gpt::SECTOR,
                last_lba: volume_end / gpt::SECTOR - 1,
                attributes: 0,
                name: "ESP",
            },
        ],
    };
    let entries = g.entries();
    let ecrc = gpt::crc32(&entries);
    out.write_all_at(&g.protective_mbr(), 0).map_err(werr)?;
    out.write_all_at(&g.header(true, ecrc), gpt::SECTOR)
        .map_err(werr)?;
    out.write_all_at(&entries, 2 * gpt::SECTOR).map_err(werr)?;
    out.write_all_at(&entries, g.backup_entries_lba() * gpt::SECTOR)
        .map_err(werr)?;
    out.write_all_at(&g.header(false, ecrc), g.backup_header_lba() * gpt::SECTOR)
        .map_err(werr)?;
    // Now: the image is complete in the temporary file.

    // Phase 5: make it durable and publish it under its name.
    tmp.commit()
        .map_err(|e| Error::io("write and rename the finished image to", &img.output, e))?;

    Ok(Report {
        output: img.output.clone(),
        image_bytes,
        esp_offset,
        esp_bytes,
        fat_type,
        arches: img.arches.clone(),
        files: tree.file_count(),
        disk_guid: gpt::guid_string(&g.disk_guid),
    })
}

/// Size of an image file on disk, for summaries.
pub fn human(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

/// `-q/--quiet` and `--version` (no short form: both tools keep `-V` for the volume label),
/// flattened into both binaries' CLIs; `quiet` goes to [`finish`].
#[derive(clap::Args, Debug)]
pub struct QuietVersion {
    /// No progress line and no summary.
    #[arg(short, long)]
    pub quiet: bool,

    /// Print version.
    #[arg(long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,
}

/// How both binaries end: on success the image's description on stderr (unless `quiet`), on
/// failure `tool: error: …` and exit code 1.
pub fn finish(tool: &str, quiet: bool, result: Result<Report>) -> std::process::ExitCode {
    match result {
        Ok(report) => {
            if !quiet {
                eprintln!("{tool}: wrote {}", describe(&report));
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{tool}: error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Used by the CLI and tests to say where the ESP is.
pub fn describe(r: &Report) -> String {
    format!(
        "{}: {} ({} ESP {} at offset {}, arches: {}; {} extra file{})",
        r.output.display(),
        human(r.image_bytes),
        human(r.esp_bytes),
        r.fat_type,
        r.esp_offset,
        r.arches
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(" "),
        r.files,
        if r.files == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uki_specs() {
        let u = Uki::parse(OsStr::new("linux/x86_64=/a/b.efi")).unwrap();
        assert_eq!(
            u,
            Uki {
                arch: Arch::Amd64,
                path: "/a/b.efi".into()
            }
        );
        let e = Uki::parse(OsStr::new("linux/mips=/x")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--uki \"linux/mips=/x\": unknown architecture \"mips\" (expected amd64, arm64, riscv64 \
             or loongarch64; aliases x86_64, aarch64, loong64)"
        );
        assert!(matches!(
            Uki::parse(OsStr::new("amd64=/x")),
            Err(Error::UkiSyntax { .. })
        ));
        assert!(matches!(
            Uki::parse(OsStr::new("linux/amd64")),
            Err(Error::UkiSyntax { .. })
        ));
    }

    #[test]
    fn labels() {
        assert!(check_label("CLOUD_BOOT").is_ok());
        assert_eq!(
            check_label(&"x".repeat(33)).unwrap_err().to_string(),
            format!(
                "volume label \"{}\": longer than 32 characters",
                "x".repeat(33)
            )
        );
        assert!(check_label("").is_err());
        assert!(check_label("é").is_err());
    }
}
