//! CLI: `build-iso --arch ARCH:BOOT_TAR:SQUASHFS ... OUTPUT` or `build-iso BOOT_TAR SQUASHFS OUTPUT`
//! — a live-OS ISO booted by systemd-boot on every arch it was given (see `live.rs`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cloud_boot_iso::live::{self, LiveArch, LiveConfig, Options};
use cloud_boot_iso::{Error, Result};

#[derive(Parser, Debug)]
#[command(
    name = "build-iso",
    version,
    disable_version_flag = true,
    about = "Build a live-OS ISO (systemd-boot, BLS entries, a squashfs root per arch) that boots \
             as a CD or a disk on x86_64, aarch64, riscv64 and loongarch64",
    override_usage = "build-iso [OPTIONS] --arch ARCH:BOOT_TAR:SQUASHFS [--arch ...] OUTPUT\n       \
                      build-iso [OPTIONS] BOOT_TAR SQUASHFS OUTPUT"
)]
struct Cli {
    /// One arch's boot-files tar and squashfs root. ARCH: x86_64 (amd64), aarch64 (arm64),
    /// riscv64, loongarch64 (loong64). Repeat per arch.
    #[arg(long = "arch", value_name = "ARCH:BOOT_TAR:SQUASHFS")]
    arch: Vec<OsString>,

    /// OUTPUT with --arch; BOOT_TAR SQUASHFS OUTPUT without (single arch, LiveOS/squashfs.img).
    #[arg(value_name = "FILES", required = true)]
    files: Vec<OsString>,

    /// Volume label, also in root=live:CDLABEL= (A-Z, 0-9, _; at most 16).
    #[arg(short = 'V', long = "label", value_name = "LABEL", default_value = live::DEFAULT_LABEL)]
    label: String,

    /// Boot entry title; " (<arch>)" is appended. Default: the label in words ("Dakota Live").
    #[arg(long, value_name = "TITLE")]
    title: Option<String>,

    /// A shared squashfs placed at LiveOS/store.squashfs.img (e.g. an offline OCI store).
    #[arg(long, value_name = "SQUASHFS")]
    store: Option<PathBuf>,

    /// Replace the kernel options after the live-boot ones (default
    /// "enforcing=0 console=ttyS0,115200n8", ttyAMA0 on aarch64).
    #[arg(long, value_name = "OPTIONS")]
    options: Option<String>,

    /// Append kernel options to every entry. Repeatable.
    #[arg(long, value_name = "OPTIONS")]
    append: Vec<String>,

    #[command(flatten)]
    sign: cloud_boot_iso::sign::SignCli,

    #[command(flatten)]
    common: cloud_boot_iso::QuietVersion,
}

fn config(cli: &Cli) -> Result<LiveConfig> {
    let usage = |reason: &str| Error::Usage {
        what: "build-iso".into(),
        reason: reason.into(),
    };
    let (arches, output) = if cli.arch.is_empty() {
        let [tar, squashfs, output] = cli.files.as_slice() else {
            return Err(usage(
                "without --arch give exactly BOOT_TAR SQUASHFS OUTPUT",
            ));
        };
        let single = LiveArch {
            arch: None,
            boot_tar: tar.into(),
            squashfs: squashfs.into(),
        };
        (vec![single], PathBuf::from(output))
    } else {
        let [output] = cli.files.as_slice() else {
            return Err(usage("with --arch give only OUTPUT as a file argument"));
        };
        let arches = cli
            .arch
            .iter()
            .map(|s| LiveArch::parse(s))
            .collect::<Result<_>>()?;
        (arches, PathBuf::from(output))
    };
    Ok(LiveConfig {
        arches,
        store: cli.store.clone(),
        output,
        label: cli.label.clone(),
        title: cli.title.clone(),
        options: Options {
            replace: cli.options.clone(),
            append: cli.append.clone(),
        },
        source_date_epoch: cloud_boot_iso::time::source_date_epoch()?,
        progress: !cli.common.quiet,
        sign: cli.sign.sign_args()?,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = config(&cli).and_then(|cfg| live::build(&cfg));
    cloud_boot_iso::finish("build-iso", cli.common.quiet, result)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
