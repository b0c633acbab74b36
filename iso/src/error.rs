//! Typed errors. Every variant names the file or argument it is about, so the one line the CLI
//! prints is enough to act on without a backtrace.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::arch::{machine_name, Arch};

pub type Result<T = ()> = std::result::Result<T, Error>;

#[derive(Debug)]
pub enum Error {
    /// A `--uki` value that is not `linux/<arch>=<path>`.
    UkiSyntax { spec: String },
    /// `--uki linux/<arch>=…` with an arch we do not know.
    UnknownArch { spec: String, arch: String },
    /// The same arch (possibly through an alias) given twice.
    DuplicateArch {
        arch: Arch,
        first: PathBuf,
        second: PathBuf,
    },
    /// No `--uki` at all: an image without a boot loader boots nothing.
    NoInputs,
    /// A `--add` value that is not `ISO_PATH=HOST_PATH`, or whose ISO path is unusable.
    AddSyntax { spec: String, reason: String },
    /// Two `--add` sources claim the same path in the image.
    AddConflict { iso_path: String, reason: String },
    /// Host file of a type we cannot put in an ISO (fifo, socket, device).
    UnsupportedFileType { path: PathBuf },
    /// A directory that contains itself through a symlink.
    DirectoryLoop { path: PathBuf },
    /// Input is not a PE image at all.
    NotPe { path: PathBuf, reason: String },
    /// PE, but PE32 (or something else) rather than PE32+.
    NotPe32Plus { path: PathBuf, magic: u16 },
    /// PE32+ for another CPU than the `--uki` arch says.
    WrongMachine {
        path: PathBuf,
        arch: Arch,
        found: u16,
    },
    /// PE32+ but not an EFI application/driver.
    NotEfi { path: PathBuf, subsystem: u16 },
    /// `-o` names one of the inputs.
    OutputIsInput { output: PathBuf, input: PathBuf },
    /// `pectl verify` finds errors in a boot input: firmware would refuse it, or it would fail.
    NotLoadable { path: PathBuf, errors: String },
    /// Volume label that cannot be stored.
    BadLabel { label: String, reason: String },
    /// SOURCE_DATE_EPOCH set to something that is not a non-negative integer.
    BadSourceDateEpoch { value: String },
    /// Sizes beyond what the formats can address.
    TooLarge { what: String },
    /// A file changed size while the image was being written (the image would be inconsistent).
    ChangedDuringBuild {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    /// A bad command line of build-iso: `what` names the argument.
    Usage { what: String, reason: String },
    /// An input file that is not what its place needs: `subject` names the file (and member).
    Input { subject: String, reason: String },
    /// An I/O failure, with what we were doing and on which path.
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UkiSyntax { spec } => write!(
                f,
                "--uki {spec:?}: expected linux/<arch>=<path> (arch: amd64, arm64, riscv64, loongarch64)"
            ),
            Error::UnknownArch { spec, arch } => write!(
                f,
                "--uki {spec:?}: unknown architecture {arch:?} (expected amd64, arm64, riscv64 or loongarch64; \
                 aliases x86_64, aarch64, loong64)"
            ),
            Error::DuplicateArch {
                arch,
                first,
                second,
            } => write!(
                f,
                "--uki linux/{arch} given twice ({} and {}): each arch has one \\EFI\\BOOT\\{} slot",
                first.display(),
                second.display(),
                arch.efi_boot_file()
            ),
            Error::NoInputs => write!(
                f,
                "no --uki inputs: give at least one --uki linux/<arch>=<path>"
            ),
            Error::AddSyntax { spec, reason } => write!(f, "--add {spec:?}: {reason}"),
            Error::AddConflict { iso_path, reason } => {
                write!(f, "--add: ISO path {iso_path:?} {reason}")
            }
            Error::UnsupportedFileType { path } => write!(
                f,
                "{}: not a regular file or directory (fifos, sockets and devices cannot go in the image)",
                path.display()
            ),
            Error::DirectoryLoop { path } => write!(
                f,
                "{}: directory loop (a symlink points at one of its own parents)",
                path.display()
            ),
            Error::NotPe { path, reason } => {
                write!(f, "{}: not a PE image ({reason})", path.display())
            }
            Error::NotPe32Plus { path, magic } => write!(
                f,
                "{}: not a PE32+ image (optional header magic {magic:#06x}{}, UEFI on 64-bit CPUs needs 0x020b)",
                path.display(),
                if *magic == 0x10b { " = PE32" } else { "" }
            ),
            Error::WrongMachine { path, arch, found } => write!(
                f,
                "{}: PE machine is {} but --uki linux/{arch} needs {}",
                path.display(),
                machine_name(*found),
                machine_name(arch.pe_machine())
            ),
            Error::OutputIsInput { output, input } => f.write_str(
                &peln_pe::output::refusal_to_overwrite(output.display(), input.display()),
            ),
            Error::NotLoadable { path, errors } => write!(
                f,
                "{}: UEFI firmware would not load it (pectl verify): {errors}",
                path.display()
            ),
            Error::NotEfi { path, subsystem } => write!(
                f,
                "{}: PE subsystem is {subsystem}, not an EFI image (10 application, 11 boot-service driver, \
                 12 runtime driver)",
                path.display()
            ),
            Error::BadLabel { label, reason } => write!(f, "volume label {label:?}: {reason}"),
            Error::BadSourceDateEpoch { value } => write!(
                f,
                "SOURCE_DATE_EPOCH={value:?} is not a non-negative integer number of seconds"
            ),
            Error::TooLarge { what } => write!(f, "too large: {what}"),
            Error::ChangedDuringBuild {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: changed size while the image was written ({expected} bytes, now {found})",
                path.display()
            ),
            Error::Usage { what, reason } | Error::Input {
                subject: what,
                reason,
            } => write!(f, "{what}: {reason}"),
            Error::Io {
                action,
                path,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
