//! `pectl`: the command-line front end of the peln linker.
//!
//! `pectl link` turns objects and archives into a PE32+ UEFI image; `pectl uki` joins a UEFI stub,
//! a kernel, initrds and a command line into a Unified Kernel Image as systemd's ukify does;
//! `pectl inspect` prints what a PE image, COFF/ELF object or archive holds; `pectl sign` and
//! `pectl verify` sign images for Secure Boot and check them as firmware would.
//!
//! Called as `lld-link`, `ld.lld` or with `-flavor link|gnu`, pectl is the linker toolchains
//! already know how to drive (see [`flavor`]).
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use peln_linker::{LinkArgs, Machine, Subsystem};
use peln_pe::output::Displaced;

pub mod flavor;
pub mod heap;
pub mod inspect;
pub mod process;
mod sign;
mod verify;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser, Debug)]
#[command(
    name = "pectl",
    version,
    about = "PE/COFF linker and inspector for UEFI images"
)]
struct Cli {
    /// Log what the linker does (repeat for more detail).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Link objects and archives into a PE32+ EFI image.
    Link(Link),
    /// Build a Unified Kernel Image: a UEFI stub with the kernel, initrds, command line,
    /// os-release, uname and SBAT data appended as sections, laid out as systemd's ukify does.
    Uki(Uki),
    /// Print headers, sections, symbols, relocations of a PE image, COFF/ELF object or archive.
    Inspect { file: PathBuf },
    /// Check that UEFI firmware (edk2) would load and run each image: every problem is printed
    /// with its field and value. Exit status 1 when any image has errors; warnings do not fail.
    /// A signed image's Authenticode signatures are checked too: the certificate table's
    /// structure and that each signature's digest is the image's.
    Verify {
        /// Also check each signature's RSA signature and that a signer is, or is issued by, one
        /// of these certificates (the firmware's db); an unsigned image then fails. Repeatable.
        #[arg(long = "cert", value_name = "CERT.pem")]
        certs: Vec<PathBuf>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Authenticode-sign a PE image (sbsign's job): SHA-256, PKCS#7, the signature appended in
    /// the certificate table. SOURCE_DATE_EPOCH sets the signing time (none without it), so the
    /// output is reproducible.
    Sign(sign::Sign),
}

#[derive(clap::Args, Debug)]
struct Uki {
    /// The UEFI stub: a PE32+ image for amd64, arm64, riscv64 or loongarch64 (e.g. systemd's
    /// linuxx64.efi.stub).
    #[arg(long, value_name = "STUB.efi")]
    stub: PathBuf,
    /// The kernel, a PE image for the stub's machine [.linux].
    #[arg(long, value_name = "KERNEL")]
    linux: PathBuf,
    /// An initrd [.initrd]; repeat to concatenate several, each padded with zeros to 4 bytes.
    #[arg(long = "initrd", value_name = "FILE")]
    initrds: Vec<PathBuf>,
    /// Kernel command line [.cmdline]: the text, or @FILE for a file's contents.
    #[arg(long, value_name = "TEXT|@FILE", allow_hyphen_values = true)]
    cmdline: Option<String>,
    /// os-release [.osrel]: the text, or @FILE for a file's contents.
    #[arg(long, value_name = "TEXT|@FILE", allow_hyphen_values = true)]
    os_release: Option<String>,
    /// Kernel release [.uname]. Without it, it is read from the kernel as ukify does (x86 boot
    /// header, or a `Linux version` string); an empty TEXT adds no .uname.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    uname: Option<String>,
    /// SBAT entries [.sbat], merged with the stub's and the kernel's: the text, or @FILE, starting
    /// with an `sbat,1,...` line; repeatable. Default: the `uki,1,UKI,...` entry.
    #[arg(long, value_name = "TEXT|@FILE", allow_hyphen_values = true)]
    sbat: Vec<String>,
    /// Output image.
    #[arg(short, long, value_name = "OUT.efi")]
    output: PathBuf,
    /// Sign the UKI for Secure Boot with this private key (PEM; encrypted PKCS#8 needs a password:
    /// --key-password-file or PELN_KEY_PASSWORD). An unsigned kernel is signed too; a signed stub's
    /// signature is dropped.
    #[arg(long, value_name = "KEY.pem", requires = "secureboot_certificate")]
    secureboot_private_key: Option<PathBuf>,
    /// The certificate of --secureboot-private-key.
    #[arg(long, value_name = "CERT.pem", requires = "secureboot_private_key")]
    secureboot_certificate: Option<PathBuf>,
    /// Read the private key's password from this file (else from PELN_KEY_PASSWORD).
    #[arg(long, value_name = "FILE", requires = "secureboot_private_key")]
    key_password_file: Option<PathBuf>,
    /// Refuse a stub that is not signed.
    #[arg(long)]
    require_signed_stub: bool,
}

#[derive(clap::Args, Debug)]
struct Link {
    /// Target machine: amd64 (x86_64, x64), arm64 (aarch64, aa64), riscv64, loongarch64 (loong64).
    /// Default: the machine of the first object.
    #[arg(long, value_parser = parse_machine)]
    machine: Option<Machine>,
    /// Output image.
    #[arg(short, long)]
    output: PathBuf,
    /// Entry point symbol.
    #[arg(long, default_value = "efi_main")]
    entry: String,
    /// efi-application, efi-boot-service-driver or efi-runtime-driver.
    #[arg(long, default_value = "efi-application", value_parser = parse_subsystem)]
    subsystem: Subsystem,
    /// Drop sections not reachable from the entry point.
    #[arg(long)]
    gc_sections: bool,
    /// Identical code folding: all (code even where its address is taken), safe (nothing whose
    /// address is significant, by the objects' .llvm_addrsig tables) or none.
    #[arg(long, default_value = "none", value_parser = parse_icf)]
    icf: peln_linker::icf::Level,
    /// Write a link map (sections, input sections, symbols with addresses and sizes).
    #[arg(long)]
    map: Option<PathBuf>,
    /// Add a directory to the -l search path.
    #[arg(short = 'L', value_name = "DIR")]
    lib_dirs: Vec<PathBuf>,
    /// Link libNAME.a / NAME.lib from the -L directories.
    #[arg(short = 'l', value_name = "NAME")]
    libs: Vec<String>,
    /// Preferred load address (decimal or 0x hex).
    #[arg(long, value_parser = flavor::parse_number)]
    image_base: Option<u64>,
    /// Accept 32-bit absolute addresses (-fno-pic code): base-relocated as HIGHLOW, so the image
    /// works only when firmware loads it below 4 GiB. Requires --image-base below 2 GiB.
    #[arg(long)]
    allow_absolute32: bool,
    /// Do not relax instruction sequences (RISC-V, LoongArch).
    #[arg(long)]
    no_relax: bool,
    /// Sign the image for Secure Boot with this private key (PEM; an encrypted key's password
    /// from --key-password-file or PELN_KEY_PASSWORD), as `pectl sign` would.
    #[arg(long, value_name = "KEY.pem", requires = "sign_cert")]
    sign_key: Option<PathBuf>,
    /// The certificate of --sign-key.
    #[arg(long, value_name = "CERT.pem", requires = "sign_key")]
    sign_cert: Option<PathBuf>,
    /// Read the private key's password from this file (else from PELN_KEY_PASSWORD).
    #[arg(long, value_name = "FILE", requires = "sign_key")]
    key_password_file: Option<PathBuf>,
    /// Objects (.o, .obj) and archives (.a, .lib, .rlib).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

fn parse_machine(s: &str) -> Result<Machine, String> {
    Machine::from_name(s).ok_or_else(|| {
        format!("unknown machine `{s}` (expected amd64, arm64, riscv64 or loongarch64)")
    })
}

fn parse_icf(s: &str) -> Result<peln_linker::icf::Level, String> {
    peln_linker::icf::Level::from_name(s)
        .ok_or_else(|| format!("unknown ICF level `{s}` (expected all, safe or none)"))
}

fn parse_subsystem(s: &str) -> Result<Subsystem, String> {
    Subsystem::from_name(s).ok_or_else(|| {
        format!(
            "unknown subsystem `{s}` (expected efi-application, efi-boot-service-driver or efi-runtime-driver)"
        )
    })
}

/// SOURCE_DATE_EPOCH, clamped to the 32-bit TimeDateStamp; 0 when unset.
fn timestamp() -> Result<u32, Error> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => {
            let secs: u64 = v
                .trim()
                .parse()
                .map_err(|e| format!("SOURCE_DATE_EPOCH=`{v}` is not a number: {e}"))?;
            Ok(secs.min(u64::from(u32::MAX)) as u32)
        }
        _ => Ok(0),
    }
}

/// Links `args` whatever the flavour that parsed them. The linker writes a staged file beside the
/// output and puts it in place only once `pectl verify`'s checks pass, so a failed link leaves
/// the previous output untouched. The previous output is removed when what this returns is
/// dropped: after the caller has been told (`process::link`).
fn link(args: LinkArgs) -> Result<Displaced, Error> {
    // The linker itself refuses an output that is one of its inputs.
    Ok(peln_linker::link(&LinkArgs {
        exit_early: true,
        ..args
    })?)
}

/// [`link`], then signs the image: the key is loaded first, so a bad key or password leaves no
/// output; the linker writes to a scratch file beside the output, and only the signed image is
/// renamed onto the output.
fn link_signed(
    args: LinkArgs,
    key: &Path,
    cert: &Path,
    password_file: Option<&Path>,
) -> Result<(), Error> {
    let password = peln_sign::Password::from_file_or_env(password_file)?;
    let signer = peln_sign::Signer::load(key, cert, password.as_ref())?;
    let output = args.output.clone();
    let inputs: Vec<&Path> = args.inputs.iter().map(PathBuf::as_path).collect();
    if let Some(input) = peln_pe::output::output_is_input(&output, &inputs) {
        return Err(
            peln_pe::output::refusal_to_overwrite(output.display(), input.display()).into(),
        );
    }
    let name = output.file_name().unwrap_or_default().to_string_lossy();
    let unsigned = output.with_file_name(format!(".{name}.unsigned-{}", std::process::id()));
    let result = link(LinkArgs {
        output: unsigned.clone(),
        ..args
    })
    .and_then(|_| {
        let image = std::fs::read(&unsigned).map_err(|e| format!("{}: {e}", unsigned.display()))?;
        let signed = signer
            .sign(&image, &peln_sign::SignOptions::from_env(false))
            .map_err(|e| format!("{}: {e}", output.display()))?;
        peln_pe::output::write_atomic(&output, &signed)
            .map_err(|e| format!("{}: cannot write: {e}", output.display()).into())
    });
    let _ = std::fs::remove_file(&unsigned);
    result
}

/// Runs `pectl` with `args` (argv[0] included). Help and usage errors come back as errors whose
/// text is clap's.
pub fn run<I, T>(args: I) -> Result<(), Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some((f, start)) = flavor::detect(&argv)? {
        let flavor::Parsed {
            link: mut args,
            time,
        } = flavor::parse(f, &argv[start..])?;
        // lld-link's /TIME: each phase's time, as `pectl -vv link` prints it.
        if time {
            init_tracing(2);
        }
        args.timestamp = timestamp()?;
        return process::link(|| link(args)).map(drop);
    }
    let cli = Cli::try_parse_from(argv)?;
    init_tracing(cli.verbose);
    match cli.command {
        Command::Link(l) => {
            if l.allow_absolute32 {
                match l.image_base {
                    Some(base) if base < 0x8000_0000 => {}
                    _ => {
                        return Err(
                            "--allow-absolute32 needs --image-base below 0x80000000, so 32-bit \
                                    absolute addresses fit"
                                .into(),
                        )
                    }
                }
            }
            let args = LinkArgs {
                machine: l.machine,
                inputs: l.inputs,
                lib_dirs: l.lib_dirs,
                libs: l.libs,
                entry: l.entry,
                subsystem: l.subsystem,
                gc_sections: l.gc_sections,
                icf: l.icf,
                map: l.map,
                image_base: l.image_base,
                allow_absolute32: l.allow_absolute32,
                relax: !l.no_relax,
                timestamp: timestamp()?,
                ..LinkArgs::new(l.output)
            };
            process::link(|| match l.sign_key.zip(l.sign_cert) {
                Some((key, cert)) => {
                    link_signed(args, &key, &cert, l.key_password_file.as_deref())?;
                    Ok(Displaced::default())
                }
                None => link(args),
            })
            .map(drop)
        }
        Command::Uki(u) => {
            use peln_uki::{Payload, UkiArgs};
            let args = UkiArgs {
                stub: u.stub,
                linux: u.linux,
                initrds: u.initrds,
                cmdline: u.cmdline.as_deref().map(Payload::parse),
                os_release: u.os_release.as_deref().map(Payload::parse),
                uname: u.uname,
                sbat: u.sbat.iter().map(|s| Payload::parse(s)).collect(),
                output: u.output,
                secureboot: u.secureboot_private_key.zip(u.secureboot_certificate).map(
                    |(key, cert)| peln_uki::SecureBoot {
                        key,
                        cert,
                        password_file: u.key_password_file,
                    },
                ),
                require_signed_stub: u.require_signed_stub,
            };
            for warning in peln_uki::build(&args)? {
                eprintln!("pectl: warning: {warning}");
            }
            Ok(())
        }
        Command::Inspect { file } => {
            let data = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let name = file.display().to_string();
            // Errors from the readers (`object`'s) do not know the file: name it.
            let text = inspect::render(&name, &data).map_err(|e| match e.to_string() {
                m if m.starts_with(&name) => m,
                m => format!("{name}: {m}"),
            })?;
            print!("{text}");
            Ok(())
        }
        Command::Verify { certs, files } => verify::run(&files, &certs),
        Command::Sign(args) => sign::run(&args),
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => return,
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .with_writer(std::io::stderr)
        // Each phase of a link is a span: its close line gives the phase's time (lld's /TIME).
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .try_init();
}
