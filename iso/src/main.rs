//! CLI: `cloud-boot-iso --uki linux/<arch>=<path> ... -o boot.iso [-V LABEL] [--add ISO=HOST]
//! [--sign-key KEY --sign-cert CERT [--key-password-file FILE]]`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "cloud-boot-iso",
    version,
    // -V is the volume label (mkisofs/xorriso convention); --version stays, without a short form.
    disable_version_flag = true,
    about = "Pack per-arch UEFI programs (UKIs) into one hybrid ISO 9660 + El Torito + GPT image \
             that boots as a CD or a disk on x86_64, arm64, riscv64 and loongarch64"
)]
struct Cli {
    /// A UEFI program for one arch, placed at \EFI\BOOT\BOOT<ARCH>.EFI in the ESP.
    /// ARCH: amd64 (x86_64), arm64 (aarch64), riscv64, loongarch64 (loong64). Repeat per arch.
    #[arg(long = "uki", value_name = "linux/ARCH=PATH")]
    uki: Vec<OsString>,

    /// Output image path (written to a temporary file beside it, renamed on success).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    output: PathBuf,

    /// Volume label (up to 32 printable ASCII characters).
    #[arg(short = 'V', long = "volume-label", value_name = "LABEL")]
    volume_label: Option<String>,

    /// Extra file or directory for the ISO 9660 tree. Repeatable; directories merge.
    #[arg(long = "add", value_name = "ISO_PATH=HOST_PATH")]
    add: Vec<OsString>,

    #[command(flatten)]
    sign: cloud_boot_iso::sign::SignCli,

    #[command(flatten)]
    common: cloud_boot_iso::QuietVersion,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let run = || -> cloud_boot_iso::Result<cloud_boot_iso::Report> {
        let mut cfg = cloud_boot_iso::Config::from_args(
            &cli.uki,
            &cli.add,
            cli.output.clone(),
            cli.volume_label.clone(),
        )?;
        cfg.progress = !cli.common.quiet;
        cfg.sign = cli.sign.sign_args()?;
        cloud_boot_iso::build(&cfg)
    };
    cloud_boot_iso::finish("cloud-boot-iso", cli.common.quiet, run())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
