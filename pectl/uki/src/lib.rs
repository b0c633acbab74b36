//! `pectl uki`: a Unified Kernel Image made the way systemd's `ukify build` makes one.
//!
//! A UKI is a UEFI stub (systemd-stub, or any PE32+ EFI image) with the kernel, initrd, command
//! line and friends appended as PE sections. ukify's `pe_add_sections` and `merge_sbat`
//! (src/ukify/ukify.py) are the reference; what this module does differently is named where it
//! does it:
//!
//! - New sections go after the stub's, in ukify 257's order `.osrel .cmdline .uname .linux
//!   .initrd .sbat`. Each starts at the previous section's end rounded up to SectionAlignment,
//!   its raw data at the end of the file rounded up to FileAlignment; SizeOfRawData is the length
//!   rounded up to FileAlignment and VirtualSize the length. `.linux` is `CNT_CODE | MEM_READ`
//!   (old kernels run in place through the EFI handover protocol), the rest
//!   `CNT_INITIALIZED_DATA | MEM_READ`. The UKI keeps NX_COMPAT only when the kernel has it.
//! - A command line given as text has its whitespace collapsed (ukify's `' '.join(split())`);
//!   `@FILE` is taken verbatim.
//! - Deliberately unlike ukify: without `--os-release` there is no `.osrel` (ukify copies the
//!   build host's /etc/os-release, which would make the image depend on the machine that built
//!   it), and the stub, the kernel and the result must pass `pectl verify` (peln_pe::verify).
//! - Several initrds are concatenated, each padded with zeros to a multiple of 4 bytes; a single
//!   one is taken as it is.
//! - `.sbat` merges the stub's and the kernel's `.sbat` and the `--sbat` texts (default: the `uki`
//!   entry): one `sbat,1,...` header, then every other line in that order, then `\n\0`. A stub
//!   that has a `.sbat` gets the merged data in place, as ukify does. Where the merged data does
//!   not fit the old section (its raw size, or the room before the next section's RVA: Debian's
//!   systemd 252 stub has 0x100 bytes, and ukify then writes overlapping sections), the stub's
//!   `.sbat` header is dropped and the merged one is appended last instead.
//! - A trailing COFF symbol table in the stub is stripped, unless a section's `/N` long name
//!   needs its string table. Characteristics stay the stub's: ukify means to set
//!   `LOCAL_SYMS_STRIPPED`, but pefile never writes that flag back, so its output has the stub's.
//!   Raw data not at FileAlignment is realigned.
//! - Secure Boot ([`SecureBoot`], ukify's `--secureboot-private-key`/`--secureboot-certificate`):
//!   the UKI is signed as a whole once built, and a kernel without a signature is signed first (as
//!   ukify does by default: firmware checks `.linux` again when the stub LoadImage()s it; a kernel
//!   that already carries a signature, e.g. Debian's, is left as it is, as ukify leaves it). A
//!   signed stub is accepted only when signing, with its certificate table dropped: its signature
//!   could not cover the added sections, and the UKI's own signature replaces it (ukify 257
//!   refuses any signed stub). `require_signed_stub` refuses an unsigned stub.
//! - Unsigned, a stub with a certificate table is refused. A stub whose header area is too small for the
//!   new section headers is grown (ukify fails): every section's raw data moves down by the same
//!   aligned amount and every file offset (section and debug-directory PointerToRawData,
//!   PointerToSymbolTable) follows.
//! - SizeOfImage and NumberOfSections are recomputed, SizeOfInitializedData grows by each new
//!   section's VirtualSize (as ukify), TimeDateStamp is the stub's. Unlike ukify (which writes 0)
//!   the checksum is computed. The same inputs give the same bytes, and the same bytes as ukify
//!   257 apart from the checksum (tests/tests/ukify_reference.rs runs the real one).
use std::fmt;
use std::path::{Path, PathBuf};

use peln_pe::headers::{
    rd16, rd32, wr16, wr32, IMAGE_DIRECTORY_ENTRY_DEBUG, IMAGE_DIRECTORY_ENTRY_SECURITY,
    SECTION_HEADER_SIZE,
};
use peln_pe::{Headers as Pe, Machine, Section as SectionHeader};

/// What `ukify` puts in `.sbat` when no `--sbat` is given.
pub const DEFAULT_SBAT: &str =
    "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n\
uki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n";

/// The header line every merged `.sbat` starts with.
const SBAT_HEADER: &str =
    "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md";

const IMAGE_SCN_CNT_CODE: u32 = 0x0000_0020;
const IMAGE_SCN_CNT_INITIALIZED_DATA: u32 = 0x0000_0040;
const IMAGE_SCN_MEM_READ: u32 = 0x4000_0000;
const IMAGE_DLLCHARACTERISTICS_NX_COMPAT: u16 = 0x0100;
/// Offset of DllCharacteristics in the optional header.
const OPT_DLL_CHARACTERISTICS: usize = 70;
const DEBUG_ENTRY_SIZE: usize = 28;
const COFF_SYMBOL_SIZE: u64 = 18;

#[derive(Debug)]
pub enum UkiError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    NotPe {
        file: String,
        reason: String,
    },
    NotPe32Plus {
        file: String,
    },
    UnsupportedMachine {
        file: String,
        machine: u16,
    },
    MachineMismatch {
        stub: String,
        stub_machine: u16,
        linux: String,
        linux_machine: u16,
    },
    /// A section the UKI adds is already in the stub (`.sbat` excepted: that one is merged).
    SectionExists {
        stub: String,
        section: &'static str,
    },
    Signed {
        stub: String,
    },
    /// `require_signed_stub` and the stub has no certificate table.
    UnsignedStub {
        stub: String,
    },
    /// Signing an image failed.
    Sign {
        file: String,
        source: peln_sign::Error,
    },
    /// The password, key or certificate cannot be loaded (the message names the file).
    SigningKey(peln_sign::Error),
    /// The headers would run into the first section's RVA: no room for more section headers.
    NoHeaderRoom {
        stub: String,
        headers_end: u64,
        first_rva: u32,
    },
    Malformed {
        file: String,
        reason: String,
    },
    NotUtf8 {
        what: String,
    },
    /// `pectl verify` finds errors: UEFI firmware would refuse the image, or it would fail.
    Unloadable {
        file: String,
        errors: String,
    },
    OutputIsInput {
        output: String,
        input: String,
    },
    TooLarge {
        what: String,
    },
}

fn machine_desc(machine: u16) -> String {
    match Machine::from_pe_machine(machine) {
        Some(m) => format!("{machine:#06x} ({})", m.name()),
        None => format!("{machine:#06x}"),
    }
}

impl fmt::Display for UkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UkiError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            UkiError::NotPe { file, reason } => write!(f, "{file}: not a PE image: {reason}"),
            UkiError::NotPe32Plus { file } => {
                write!(
                    f,
                    "{file}: the stub is a PE32 image; a UEFI stub must be PE32+"
                )
            }
            UkiError::UnsupportedMachine { file, machine } => write!(
                f,
                "{file}: stub machine {} is not amd64, arm64, riscv64 or loongarch64",
                machine_desc(*machine)
            ),
            UkiError::MachineMismatch {
                stub,
                stub_machine,
                linux,
                linux_machine,
            } => write!(
                f,
                "kernel {linux} is for machine {} but stub {stub} is for machine {}",
                machine_desc(*linux_machine),
                machine_desc(*stub_machine)
            ),
            UkiError::SectionExists { stub, section } => write!(
                f,
                "{stub}: the stub already has a {section} section, which the UKI would add"
            ),
            UkiError::Signed { stub } => write!(
                f,
                "{stub}: the stub is signed (it has a certificate table), and its signature \
                 cannot cover the UKI: sign the UKI (--secureboot-private-key, \
                 --secureboot-certificate), which drops the stub's"
            ),
            UkiError::UnsignedStub { stub } => write!(
                f,
                "{stub}: the stub is not signed (no certificate table), and a signed stub is required"
            ),
            UkiError::Sign { file, source } => write!(f, "{file}: {source}"),
            UkiError::SigningKey(source) => write!(f, "{source}"),
            UkiError::NoHeaderRoom {
                stub,
                headers_end,
                first_rva,
            } => write!(
                f,
                "{stub}: no room for the new section headers: the headers would end at \
                 {headers_end:#x}, past the first section at RVA {first_rva:#x}"
            ),
            UkiError::Malformed { file, reason } => write!(f, "{file}: {reason}"),
            UkiError::NotUtf8 { what } => write!(f, "{what} is not valid UTF-8"),
            UkiError::Unloadable { file, errors } => {
                write!(f, "{file}: UEFI firmware would not load it: {errors}")
            }
            UkiError::OutputIsInput { output, input } => {
                f.write_str(&peln_pe::output::refusal_to_overwrite(output, input))
            }
            UkiError::TooLarge { what } => {
                write!(f, "the UKI is too large: {what} does not fit in 32 bits")
            }
        }
    }
}

impl std::error::Error for UkiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UkiError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A `TEXT|@FILE` option value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Text(String),
    File(PathBuf),
}

impl Payload {
    /// `@FILE` names a file; anything else is the text itself (ukify's `TEXT|@PATH`).
    pub fn parse(s: &str) -> Payload {
        match s.strip_prefix('@') {
            Some(path) => Payload::File(PathBuf::from(path)),
            None => Payload::Text(s.to_string()),
        }
    }

    /// The section contents. Empty text means no section (as ukify's `if content:`), an empty
    /// file an empty one.
    fn bytes(&self) -> Result<Option<Vec<u8>>, UkiError> {
        match self {
            Payload::Text(t) if t.is_empty() => Ok(None),
            Payload::Text(t) => Ok(Some(t.clone().into_bytes())),
            Payload::File(p) => read(p).map(Some),
        }
    }

    /// The text itself, or the file's contents as UTF-8 (ukify's `read_text`).
    fn text(&self) -> Result<String, UkiError> {
        match self {
            Payload::Text(t) => Ok(t.clone()),
            Payload::File(p) => String::from_utf8(read(p)?).map_err(|_| UkiError::NotUtf8 {
                what: p.display().to_string(),
            }),
        }
    }
}

/// Everything `pectl uki` was told. Plain data: no I/O happens while building it.
#[derive(Clone, Debug)]
pub struct UkiArgs {
    pub stub: PathBuf,
    pub linux: PathBuf,
    pub initrds: Vec<PathBuf>,
    pub cmdline: Option<Payload>,
    pub os_release: Option<Payload>,
    /// `None`: detected from the kernel, as ukify does; `Some("")`: no `.uname`.
    pub uname: Option<String>,
    /// `--sbat` texts; empty means [`DEFAULT_SBAT`].
    pub sbat: Vec<Payload>,
    pub output: PathBuf,
    /// Sign the UKI (and an unsigned kernel) for Secure Boot.
    pub secureboot: Option<SecureBoot>,
    /// Refuse a stub that carries no signature (`--require-signed-stub`: the stub must come signed,
    /// e.g. by the distribution that built it).
    pub require_signed_stub: bool,
}

/// The key pair that signs a UKI: ukify's `--secureboot-private-key` and
/// `--secureboot-certificate`; the key's password from `password_file`, else the environment
/// variable `PELN_KEY_PASSWORD` (never the command line).
#[derive(Clone, Debug)]
pub struct SecureBoot {
    pub key: PathBuf,
    pub cert: PathBuf,
    pub password_file: Option<PathBuf>,
}

/// A file already read: its name (for messages) and bytes.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
}

/// The in-memory inputs of [`assemble`].
#[derive(Clone, Debug)]
pub struct Parts<'a> {
    pub stub: Input<'a>,
    pub linux: Input<'a>,
    pub os_release: Option<&'a [u8]>,
    pub cmdline: Option<&'a [u8]>,
    /// `None`: detect from the kernel; `Some("")`: no `.uname`.
    pub uname: Option<&'a str>,
    pub initrds: &'a [Vec<u8>],
    /// `--sbat` texts, each starting with an `sbat,` line; empty means [`DEFAULT_SBAT`].
    pub sbat: &'a [String],
}

/// A finished image and what the user should hear about it.
#[derive(Debug)]
pub struct Uki {
    pub image: Vec<u8>,
    pub warnings: Vec<String>,
}

fn read(path: &Path) -> Result<Vec<u8>, UkiError> {
    std::fs::read(path).map_err(|source| UkiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads every input, builds the UKI and writes it to `args.output` through a temporary file,
/// so a failure leaves no output and never touches an existing one. Returns the warnings.
pub fn build(args: &UkiArgs) -> Result<Vec<String>, UkiError> {
    let (stub_name, linux_name) = (
        args.stub.display().to_string(),
        args.linux.display().to_string(),
    );
    let signer = args.secureboot.as_ref().map(load_signer).transpose()?;
    let sign_opts = peln_sign::SignOptions::from_env(false);
    let mut stub = read(&args.stub)?;
    let stub_signed = parse(&stub_name, &stub)?.dir(IMAGE_DIRECTORY_ENTRY_SECURITY) != (0, 0);
    if args.require_signed_stub && !stub_signed {
        return Err(UkiError::UnsignedStub { stub: stub_name });
    }
    let mut linux = read(&args.linux)?;
    if let Some(signer) = &signer {
        if stub_signed {
            stub = strip_signature(&stub_name, &stub)?;
        }
        if parse(&linux_name, &linux)?.dir(IMAGE_DIRECTORY_ENTRY_SECURITY) == (0, 0) {
            linux = signer
                .sign(&linux, &sign_opts)
                .map_err(|source| UkiError::Sign {
                    file: linux_name.clone(),
                    source,
                })?;
        }
    }
    let initrds = args
        .initrds
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let os_release = args.os_release.as_ref().map(Payload::bytes).transpose()?;
    // As ukify: whitespace in a command line given as text has no meaning and is collapsed; a
    // file's contents are taken verbatim.
    let cmdline = match &args.cmdline {
        Some(Payload::Text(t)) => {
            Payload::Text(t.split_whitespace().collect::<Vec<_>>().join(" ")).bytes()?
        }
        Some(file) => file.bytes()?,
        None => None,
    };
    let sbat = args
        .sbat
        .iter()
        .map(Payload::text)
        .collect::<Result<Vec<_>, _>>()?;
    let mut uki = assemble(&Parts {
        stub: Input {
            name: &stub_name,
            data: &stub,
        },
        linux: Input {
            name: &linux_name,
            data: &linux,
        },
        os_release: os_release.as_ref().and_then(|o| o.as_deref()),
        cmdline: cmdline.as_deref(),
        uname: args.uname.as_deref(),
        initrds: &initrds,
        sbat: &sbat,
    })?;
    // The image is complete in memory; nothing has touched the output path yet.
    refuse_unloadable(&stub_name, &stub)?;
    refuse_unloadable(&linux_name, &linux)?;
    let output_name = args.output.display().to_string();
    if let Some(signer) = &signer {
        uki.image = signer
            .sign(&uki.image, &sign_opts)
            .map_err(|source| UkiError::Sign {
                file: output_name.clone(),
                source,
            })?;
    }
    refuse_unloadable(&output_name, &uki.image)?;
    let inputs: Vec<&Path> = [&args.stub, &args.linux]
        .into_iter()
        .chain(&args.initrds)
        .map(PathBuf::as_path)
        .collect();
    if let Some(input) = peln_pe::output::output_is_input(&args.output, &inputs) {
        return Err(UkiError::OutputIsInput {
            output: output_name,
            input: input.display().to_string(),
        });
    }
    peln_pe::output::write_atomic(&args.output, &uki.image).map_err(|source| UkiError::Io {
        path: args.output.clone(),
        source,
    })?;
    Ok(uki.warnings)
}

fn load_signer(sb: &SecureBoot) -> Result<peln_sign::Signer, UkiError> {
    let password = peln_sign::Password::from_file_or_env(sb.password_file.as_deref())
        .map_err(UkiError::SigningKey)?;
    peln_sign::Signer::load(&sb.key, &sb.cert, password.as_ref()).map_err(UkiError::SigningKey)
}

/// A PE32+ stub without its signatures (peln-sign's [`peln_sign::strip_signatures`]). Its
/// table need not be 8-byte aligned, as peln-sign requires of the images it signs or verifies:
/// the signatures are dropped unread, and the UKI is laid out and signed afresh.
fn strip_signature(file: &str, image: &[u8]) -> Result<Vec<u8>, UkiError> {
    if !parse(file, image)?.pe32plus {
        return Err(UkiError::NotPe32Plus {
            file: file.to_string(),
        });
    }
    peln_sign::strip_signatures(image).map_err(|e| UkiError::Malformed {
        file: file.to_string(),
        reason: e.to_string(),
    })
}

/// The checksum the PE header at the start of `bytes` should hold (`None` if it is not a PE).
pub fn pe_checksum(bytes: &[u8]) -> Option<u32> {
    let pe = Pe::parse(bytes).ok()?;
    Some(peln_pe::checksum(bytes, pe.checksum_offset()))
}

/// `pectl verify`'s errors, as an error naming `file`.
fn refuse_unloadable(file: &str, image: &[u8]) -> Result<(), UkiError> {
    let report = peln_pe::verify::verify(image);
    if report.is_clean() {
        return Ok(());
    }
    Err(UkiError::Unloadable {
        file: file.to_string(),
        errors: report.error_text(),
    })
}

/// The headers of input `file`, or why it is not a PE image.
fn parse(file: &str, d: &[u8]) -> Result<Pe, UkiError> {
    Pe::parse(d).map_err(|e| UkiError::NotPe {
        file: file.to_string(),
        reason: e.0,
    })
}

fn round_up(x: u64, align: u64) -> u64 {
    x.div_ceil(align) * align
}

fn fit32(v: u64, what: impl FnOnce() -> String) -> Result<u32, UkiError> {
    u32::try_from(v).map_err(|_| UkiError::TooLarge { what: what() })
}

// ---------------------------------------------------------------------------------------------
// The contents ukify derives from its inputs.

/// Python's `str.splitlines()`: every line break it knows, no trailing empty line.
fn splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        ) {
            lines.push(&s[start..i]);
            start = i + c.len_utf8();
            if c == '\r' && matches!(chars.peek(), Some((_, '\n'))) {
                chars.next();
                start += 1;
            }
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// ukify's `merge_sbat`: the `.sbat` sections of `pes` (the stub, then the kernel) and the
/// `texts`, each without its first (`sbat,`) line, under one header line. An input whose first
/// line is not an `sbat,` line is skipped with a warning. Lines are kept as they come, duplicates
/// included, so the bytes are ukify's.
fn merge_sbat(
    pes: &[(&str, &Pe, &[u8])],
    texts: &[String],
    warnings: &mut Vec<String>,
) -> Result<Vec<u8>, UkiError> {
    let mut lines: Vec<String> = Vec::new();
    let mut take = |what: &str, text: &str, lines: &mut Vec<String>| {
        let split = splitlines(text);
        match split.first() {
            Some(first) if first.starts_with("sbat,") => {
                lines.extend(split[1..].iter().map(|l| l.to_string()));
            }
            _ => warnings.push(format!(
                "{what} does not start with an `sbat,` line; not merged into .sbat"
            )),
        }
    };
    for (name, pe, data) in pes {
        for s in pe.sections.iter().filter(|s| s.is(".sbat")) {
            let raw = s.raw(data);
            let used = raw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            let text = std::str::from_utf8(&raw[..used]).map_err(|_| UkiError::NotUtf8 {
                what: format!("{name}: the .sbat section"),
            })?;
            take(&format!("{name}: the .sbat section"), text, &mut lines);
        }
    }
    let defaults = [DEFAULT_SBAT.to_string()];
    let texts = if texts.is_empty() {
        &defaults[..]
    } else {
        texts
    };
    for (i, t) in texts.iter().enumerate() {
        take(&format!("--sbat text #{}", i + 1), t, &mut lines);
    }
    Ok(format!("{SBAT_HEADER}\n{}\n\0", lines.join("\n")).into_bytes())
}

/// ukify's `join_initrds`: one file as it is; several each padded with zeros to 4 bytes.
fn join_initrds(initrds: &[Vec<u8>]) -> Option<Vec<u8>> {
    match initrds {
        [] => None,
        [one] => Some(one.clone()),
        many => {
            let mut joined = Vec::new();
            for initrd in many {
                joined.extend_from_slice(initrd);
                joined.resize(round_up(joined.len() as u64, 4) as usize, 0);
            }
            Some(joined)
        }
    }
}

/// ukify's `Uname.scrape` for a PE kernel: the x86 boot header's version string, else the first
/// `Linux version X.Y... (` in the (uncompressed) image.
pub fn detect_uname(kernel: &[u8]) -> Option<String> {
    uname_from_x86_header(kernel).or_else(|| uname_from_text(kernel))
}

/// The kernel_version field of the x86 real-mode header: `RELEASE (BUILDER) #...`.
fn uname_from_x86_header(k: &[u8]) -> Option<String> {
    if k.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let start = 0x200 + usize::from(rd16(k, 0x20e)?);
    let text = k.get(start..(start + 128).min(k.len()))?;
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
    let text = std::str::from_utf8(text).ok()?;
    let is_version = |c: char| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-');
    let end = text.find(|c| !is_version(c)).unwrap_or(text.len());
    let rest = text[end..].strip_prefix(" (")?;
    let builder = rest.find([' ', ')']).unwrap_or(rest.len());
    (end > 0 && builder > 0 && rest[builder..].starts_with(") #")).then(|| text[..end].to_string())
}

/// ukify's `scrape_generic` on an image it need not decompress: `Linux version (\d\.\S+) \(`.
fn uname_from_text(k: &[u8]) -> Option<String> {
    // ukify skips the first 8 bytes of an MZ image; a zboot image is compressed.
    if k.get(4..8) == Some(b"zimg".as_slice()) {
        return None;
    }
    let body = k.get(8..)?;
    const NEEDLE: &[u8] = b"Linux version ";
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let mut from = 0;
    while let Some(i) = body[from..].windows(NEEDLE.len()).position(|w| w == NEEDLE) {
        let v = from + i + NEEDLE.len();
        let run = body[v..]
            .iter()
            .position(|&b| is_space(b))
            .unwrap_or(body.len() - v);
        let version = &body[v..v + run];
        if version.len() >= 3
            && version[0].is_ascii_digit()
            && version[1] == b'.'
            && body.get(v + run..v + run + 2) == Some(b" (".as_slice())
        {
            return std::str::from_utf8(version).ok().map(str::to_string);
        }
        from = from + i + 1;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Building the image.

/// A section the UKI appends.
struct NewSection {
    name: &'static str,
    data: Vec<u8>,
    virtual_size: u32,
    characteristics: u32,
}

/// Where the stub's raw data moved: spans of section data (sorted by old offset) and the
/// header area in front of them, which stays put.
struct Relayout {
    header_end: usize,
    /// (old offset, length, new offset, new length)
    spans: Vec<(usize, usize, usize, usize)>,
    /// How far bytes behind the header area move when there is no section data at all.
    growth: usize,
}

impl Relayout {
    /// The new offset of the byte at old offset `off`: in a section's data it moves with the
    /// section; between sections (or after the last) it follows the previous section's padded
    /// end.
    fn map(&self, off: usize) -> usize {
        if off < self.header_end {
            return off;
        }
        let i = self.spans.partition_point(|s| s.0 <= off);
        match i.checked_sub(1).map(|i| self.spans[i]) {
            Some((old, len, new, _)) if off < old + len => new + (off - old),
            Some((old, len, new, new_len)) => new + new_len + (off - old - len),
            None => off + self.growth,
        }
    }
}

/// Lays the stub's bytes out again: the header area (grown by `growth` zero bytes), then each
/// section's raw data at a FileAlignment offset, padded with zeros to a FileAlignment size, with
/// the bytes between sections (and after the last) kept in order. This is ukify's realignment of
/// old stripped stubs, and it opens room for section headers; for an aligned stub with room it
/// changes nothing.
fn relayout(
    stub_name: &str,
    data: &[u8],
    sections: &mut [SectionHeader],
    file_alignment: u64,
    growth: usize,
) -> Result<(Vec<u8>, Relayout), UkiError> {
    let mut order: Vec<usize> = (0..sections.len())
        .filter(|&i| sections[i].size_of_raw_data != 0)
        .collect();
    order.sort_by_key(|&i| sections[i].pointer_to_raw_data);
    for pair in order.windows(2) {
        let (a, b) = (&sections[pair[0]], &sections[pair[1]]);
        if u64::from(a.pointer_to_raw_data) + u64::from(a.size_of_raw_data)
            > u64::from(b.pointer_to_raw_data)
        {
            return Err(UkiError::Malformed {
                file: stub_name.to_string(),
                reason: format!(
                    "the raw data of sections {} and {} overlap",
                    a.name(),
                    b.name()
                ),
            });
        }
    }
    let header_end = order
        .first()
        .map_or(data.len(), |&i| sections[i].pointer_to_raw_data as usize);
    let mut out = data[..header_end].to_vec();
    out.resize(header_end + growth, 0);
    let mut spans = Vec::with_capacity(order.len());
    let mut old_end = header_end;
    for &i in &order {
        let s = &mut sections[i];
        let (old, len) = (s.pointer_to_raw_data as usize, s.size_of_raw_data as usize);
        out.extend_from_slice(&data[old_end..old]);
        let new = round_up(out.len() as u64, file_alignment);
        let new_len = round_up(len as u64, file_alignment);
        out.resize(new as usize, 0);
        out.extend_from_slice(&data[old..old + len]);
        out.resize((new + new_len) as usize, 0);
        s.pointer_to_raw_data = fit32(new, || format!("section {} offset", s.name()))?;
        s.size_of_raw_data = fit32(new_len, || format!("section {} size", s.name()))?;
        spans.push((old, len, new as usize, new_len as usize));
        old_end = old + len;
    }
    out.extend_from_slice(&data[old_end..]);
    Ok((
        out,
        Relayout {
            header_end,
            spans,
            growth,
        },
    ))
}

/// Builds the UKI in memory. See the module documentation for the layout.
pub fn assemble(parts: &Parts) -> Result<Uki, UkiError> {
    let mut warnings = Vec::new();
    let (stub_name, linux_name) = (parts.stub.name, parts.linux.name);
    let stub = parse(stub_name, parts.stub.data)?;
    if !stub.pe32plus {
        return Err(UkiError::NotPe32Plus {
            file: stub_name.to_string(),
        });
    }
    if Machine::from_pe_machine(stub.machine).is_none() {
        return Err(UkiError::UnsupportedMachine {
            file: stub_name.to_string(),
            machine: stub.machine,
        });
    }
    let linux = parse(linux_name, parts.linux.data)?;
    if linux.machine != stub.machine {
        return Err(UkiError::MachineMismatch {
            stub: stub_name.to_string(),
            stub_machine: stub.machine,
            linux: linux_name.to_string(),
            linux_machine: linux.machine,
        });
    }
    if stub.dir(IMAGE_DIRECTORY_ENTRY_SECURITY) != (0, 0) {
        return Err(UkiError::Signed {
            stub: stub_name.to_string(),
        });
    }
    let malformed = |reason: String| UkiError::Malformed {
        file: stub_name.to_string(),
        reason,
    };
    let (fa, sa) = (stub.file_alignment, stub.section_alignment);
    if !fa.is_power_of_two() || !sa.is_power_of_two() {
        return Err(malformed(format!(
            "FileAlignment {fa:#x} and SectionAlignment {sa:#x} must be powers of two"
        )));
    }
    let (fa, sa) = (u64::from(fa), u64::from(sa));
    let table_end = stub.table + stub.sections.len() * SECTION_HEADER_SIZE;
    for s in stub.sections.iter().filter(|s| s.size_of_raw_data != 0) {
        if u64::from(s.pointer_to_raw_data) + u64::from(s.size_of_raw_data)
            > parts.stub.data.len() as u64
        {
            return Err(malformed(format!(
                "the raw data of section {} runs past the end of the file",
                s.name()
            )));
        }
        if (s.pointer_to_raw_data as usize) < table_end {
            return Err(malformed(format!(
                "the raw data of section {} overlaps the headers",
                s.name()
            )));
        }
    }
    // Both inputs are PE images for one supported machine; the stub is unsigned and sane.

    let uname = match parts.uname {
        Some(u) => (!u.is_empty()).then(|| u.as_bytes().to_vec()),
        None => detect_uname(parts.linux.data).map(String::into_bytes),
    };
    let sbat = merge_sbat(
        &[
            (stub_name, &stub, parts.stub.data),
            (linux_name, &linux, parts.linux.data),
        ],
        parts.sbat,
        &mut warnings,
    )?;
    let data_section = IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ;
    let mut new: Vec<NewSection> = Vec::new();
    let code_section = IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_READ;
    // ukify 257's order; `.linux` is code (old kernels run in place through the EFI handover
    // protocol), and its VirtualSize is its length, as every section's.
    let contents = [
        (".osrel", parts.os_release.map(<[u8]>::to_vec), data_section),
        (".cmdline", parts.cmdline.map(<[u8]>::to_vec), data_section),
        (".uname", uname, data_section),
        (".linux", Some(parts.linux.data.to_vec()), code_section),
        (".initrd", join_initrds(parts.initrds), data_section),
    ];
    for (name, data, characteristics) in contents {
        if let Some(data) = data {
            let virtual_size = fit32(data.len() as u64, || format!("{name} size"))?;
            new.push(NewSection {
                name,
                data,
                virtual_size,
                characteristics,
            });
        }
    }
    for n in &new {
        if stub.sections.iter().any(|s| s.is(n.name)) {
            return Err(UkiError::SectionExists {
                stub: stub_name.to_string(),
                section: n.name,
            });
        }
    }
    // Every new section but .sbat is known, in ukify's order, and none is in the stub.

    let mut data = parts.stub.data.to_vec();
    let mut sections = stub.sections.clone();
    let (mut symtab, mut symbols) = (stub.pointer_to_symbol_table, stub.number_of_symbols);
    if symtab != 0 {
        let mut size = COFF_SYMBOL_SIZE * u64::from(symbols);
        if let Some(strings) = usize::try_from(u64::from(symtab) + size)
            .ok()
            .and_then(|at| rd32(&data, at))
        {
            size += u64::from(strings);
        }
        let long_names = sections.iter().any(|s| s.name[0] == b'/');
        let after_sections = sections.iter().all(|s| {
            s.size_of_raw_data == 0
                || u64::from(s.pointer_to_raw_data) + u64::from(s.size_of_raw_data)
                    <= u64::from(symtab)
        });
        if u64::from(symtab) + size == data.len() as u64 && !long_names && after_sections {
            data.truncate(symtab as usize);
            (symtab, symbols) = (0, 0);
        }
    }
    // A trailing symbol table is gone (unless section names need its strings).

    let sbat_len = sbat.len() as u64;
    let mut sbat_in_place = None;
    if let Some(i) = sections.iter().position(|s| s.is(".sbat")) {
        let s = &sections[i];
        let next_rva = sections
            .iter()
            .map(|o| u64::from(o.virtual_address))
            .filter(|&va| va > u64::from(s.virtual_address))
            .min()
            .unwrap_or(u64::MAX);
        let room = (next_rva - u64::from(s.virtual_address)).min(u64::from(s.size_of_raw_data));
        if sbat_len <= room {
            sbat_in_place = Some(i);
        } else {
            warnings.push(format!(
                "{stub_name}: its .sbat section has room for {room:#x} bytes, the merged SBAT \
                 data needs {sbat_len:#x}: the stub's .sbat header is dropped and the merged \
                 .sbat appended after .linux"
            ));
            let raw = (s.pointer_to_raw_data as usize).min(data.len());
            let end = (raw + s.size_of_raw_data as usize).min(data.len());
            data[raw..end].fill(0);
            sections.remove(i);
        }
    }
    if sbat_in_place.is_none() {
        new.push(NewSection {
            name: ".sbat",
            virtual_size: fit32(sbat_len, || ".sbat size".to_string())?,
            data: sbat.clone(),
            characteristics: data_section,
        });
    }
    // The section list is final: the stub's (maybe without its .sbat), then `new`.

    let table_end = (stub.table + (sections.len() + new.len()) * SECTION_HEADER_SIZE) as u64;
    let first_raw = sections
        .iter()
        .filter(|s| s.size_of_raw_data != 0)
        .map(|s| u64::from(s.pointer_to_raw_data))
        .min()
        .unwrap_or(data.len() as u64);
    let growth = table_end.saturating_sub(first_raw) as usize;
    let size_of_headers =
        round_up(u64::from(stub.size_of_headers), fa).max(round_up(table_end, fa));
    if let Some(first_rva) = sections.iter().map(|s| s.virtual_address).min() {
        if size_of_headers > u64::from(first_rva) {
            return Err(UkiError::NoHeaderRoom {
                stub: stub_name.to_string(),
                headers_end: size_of_headers,
                first_rva,
            });
        }
    }
    let (mut out, moved) = relayout(stub_name, &data, &mut sections, fa, growth)?;
    if growth != 0 {
        tracing::info!(growth, "uki: grew the stub's header area");
    }
    for s in &mut sections {
        for ptr in [&mut s.pointer_to_relocations, &mut s.pointer_to_linenumbers] {
            if *ptr != 0 {
                *ptr = fit32(moved.map(*ptr as usize) as u64, || "a file offset".into())?;
            }
        }
    }
    if symtab != 0 {
        symtab = fit32(moved.map(symtab as usize) as u64, || {
            "the symbol table offset".into()
        })?;
    }
    let (debug_rva, debug_size) = stub.dir(IMAGE_DIRECTORY_ENTRY_DEBUG);
    if let Some(at) = stub.rva_to_offset(debug_rva, debug_size as usize) {
        for entry in (0..debug_size as usize / DEBUG_ENTRY_SIZE).map(|i| at + i * DEBUG_ENTRY_SIZE)
        {
            let pointer = rd32(&data, entry + 24).unwrap_or(0);
            if pointer != 0 {
                let new_pointer = fit32(moved.map(pointer as usize) as u64, || {
                    "a debug directory entry's offset".into()
                })?;
                wr32(&mut out, moved.map(entry) + 24, new_pointer);
            }
        }
    }
    // The stub's bytes are laid out with room for every header; every file offset follows them.

    if let Some(i) = sbat_in_place {
        let s = &mut sections[i];
        let at = s.pointer_to_raw_data as usize;
        out[at..at + s.size_of_raw_data as usize].fill(0);
        out[at..at + sbat.len()].copy_from_slice(&sbat);
        s.virtual_size = sbat_len as u32;
    }
    let mut end_rva = sections
        .iter()
        .map(SectionHeader::end_rva)
        .max()
        .unwrap_or(size_of_headers);
    let mut size_of_initialized_data = u64::from(stub.size_of_initialized_data);
    for n in new {
        let rva = round_up(end_rva, sa);
        let offset = round_up(out.len() as u64, fa);
        let raw_size = round_up(n.data.len() as u64, fa);
        let header = SectionHeader {
            name: {
                let mut name = [0u8; 8];
                name[..n.name.len()].copy_from_slice(n.name.as_bytes());
                name
            },
            virtual_size: n.virtual_size,
            virtual_address: fit32(rva, || format!("{} RVA", n.name))?,
            size_of_raw_data: fit32(raw_size, || format!("{} size", n.name))?,
            pointer_to_raw_data: fit32(offset, || format!("{} offset", n.name))?,
            pointer_to_relocations: 0,
            pointer_to_linenumbers: 0,
            number_of_relocations: 0,
            number_of_linenumbers: 0,
            characteristics: n.characteristics,
        };
        out.resize(offset as usize, 0);
        out.extend_from_slice(&n.data);
        out.resize((offset + raw_size) as usize, 0);
        end_rva = rva + u64::from(n.virtual_size);
        size_of_initialized_data += u64::from(n.virtual_size);
        tracing::debug!(
            section = n.name,
            rva,
            offset,
            size = n.data.len(),
            "uki: added"
        );
        sections.push(header);
    }
    fit32(out.len() as u64, || "the file size".into())?;
    let size_of_image = fit32(round_up(end_rva, sa), || "SizeOfImage".into())?;
    // Every section is placed; only the headers are left.

    for (i, s) in sections.iter().enumerate() {
        let at = stub.table + i * SECTION_HEADER_SIZE;
        s.write(&mut out[at..at + SECTION_HEADER_SIZE]);
    }
    wr16(&mut out, stub.coff + 2, sections.len() as u16);
    wr32(&mut out, stub.coff + 8, symtab);
    wr32(&mut out, stub.coff + 12, symbols);
    // SizeOfInitializedData is informational; it wraps rather than failing a valid image.
    wr32(&mut out, stub.opt + 8, size_of_initialized_data as u32);
    wr32(&mut out, stub.opt + 56, size_of_image);
    wr32(&mut out, stub.opt + 60, size_of_headers as u32);
    if linux.dll_characteristics & IMAGE_DLLCHARACTERISTICS_NX_COMPAT == 0 {
        // As ukify: the UKI claims NX_COMPAT only when the kernel it runs does, or firmware that
        // enforces it would fault in the kernel.
        wr16(
            &mut out,
            stub.opt + OPT_DLL_CHARACTERISTICS,
            stub.dll_characteristics & !IMAGE_DLLCHARACTERISTICS_NX_COMPAT,
        );
    }
    let field = stub.checksum_offset();
    let sum = peln_pe::checksum(&out, field);
    wr32(&mut out, field, sum);
    Ok(Uki {
        image: out,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMD64: u16 = 0x8664;

    /// A minimal PE32+ image: `sections` are (name, rva, raw bytes, virtual size), laid out in
    /// order from `size_of_headers`, FileAlignment 0x200, SectionAlignment 0x1000.
    fn synth(machine: u16, size_of_headers: u32, sections: &[(&str, u32, &[u8], u32)]) -> Vec<u8> {
        let mut d = vec![0u8; size_of_headers as usize];
        d[..2].copy_from_slice(b"MZ");
        wr32(&mut d, 0x3c, 0x40);
        d[0x40..0x44].copy_from_slice(b"PE\0\0");
        let coff = 0x44;
        wr16(&mut d, coff, machine);
        wr16(&mut d, coff + 2, sections.len() as u16);
        wr16(&mut d, coff + 16, 240);
        wr16(&mut d, coff + 18, 0x22);
        let opt = coff + 20;
        wr16(&mut d, opt, 0x20b);
        wr32(&mut d, opt + 32, 0x1000);
        wr32(&mut d, opt + 36, 0x200);
        wr32(&mut d, opt + 60, size_of_headers);
        wr32(&mut d, opt + 108, 16);
        let table = opt + 240;
        let mut end = 0x1000;
        for (i, (name, rva, raw, vsize)) in sections.iter().enumerate() {
            let offset = d.len() as u32;
            d.extend_from_slice(raw);
            d.resize(round_up(d.len() as u64, 0x200) as usize, 0);
            let mut n = [0u8; 8];
            n[..name.len()].copy_from_slice(name.as_bytes());
            SectionHeader {
                name: n,
                virtual_size: *vsize,
                virtual_address: *rva,
                size_of_raw_data: round_up(raw.len() as u64, 0x200) as u32,
                pointer_to_raw_data: offset,
                pointer_to_relocations: 0,
                pointer_to_linenumbers: 0,
                number_of_relocations: 0,
                number_of_linenumbers: 0,
                characteristics: 0x4000_0040,
            }
            .write(&mut d[table + i * 40..table + i * 40 + 40]);
            end = rva + vsize;
        }
        wr32(&mut d, opt + 56, round_up(u64::from(end), 0x1000) as u32);
        d
    }

    /// A `.text` of one `ret` at RVA 0x1000: the code of stubs whose other sections a test is about.
    const RET_TEXT: (&str, u32, &[u8], u32) = (".text", 0x1000, b"\xc3", 1);

    /// An amd64 kernel of sixteen `nop`s.
    fn nop_kernel() -> Vec<u8> {
        synth(AMD64, 0x400, &[(".text", 0x1000, &[0x90; 0x10], 0x10)])
    }

    fn parts<'a>(stub: &'a [u8], linux: &'a [u8]) -> Parts<'a> {
        Parts {
            stub: Input {
                name: "stub.efi",
                data: stub,
            },
            linux: Input {
                name: "vmlinuz",
                data: linux,
            },
            os_release: None,
            cmdline: None,
            uname: Some(""),
            initrds: &[],
            sbat: &[],
        }
    }

    fn names(pe: &Pe) -> Vec<String> {
        pe.sections.iter().map(SectionHeader::name).collect()
    }

    /// A signed stub's certificate table is dropped wherever it starts: peln-sign refuses to sign
    /// or verify an image whose table is not 8-byte aligned, but stripping reads nothing of it.
    /// A table that is not the file's end is refused, naming the stub.
    #[test]
    fn a_signed_stubs_table_is_dropped_even_when_misaligned() {
        let mut unsigned = synth(AMD64, 0x400, &[RET_TEXT]);
        // Trailing data of odd length: the table after it starts at an odd offset.
        unsigned.push(0xee);
        let mut stub = unsigned.clone();
        let entry = 0x44 + 20 + 112 + 8 * IMAGE_DIRECTORY_ENTRY_SECURITY;
        let table_at = stub.len() as u32;
        wr32(&mut stub, entry, table_at);
        wr32(&mut stub, entry + 4, 16);
        // A WIN_CERTIFICATE's header (16 bytes, revision 2.0, PKCS_SIGNED_DATA) and 8 bytes.
        stub.extend_from_slice(&[16, 0, 0, 0, 0, 2, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        let e = peln_sign::authenticode_digest(&stub).unwrap_err();
        assert!(e.to_string().contains("not 8-byte aligned"), "{e}");
        assert_eq!(strip_signature("stub.efi", &stub).unwrap(), unsigned);

        stub.push(0);
        match strip_signature("stub.efi", &stub) {
            Err(e @ UkiError::Malformed { .. }) => {
                let text = e.to_string();
                assert!(text.starts_with("stub.efi: "), "{text}");
                assert!(text.contains("not at the end of the file"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn splitlines_is_pythons() {
        assert_eq!(splitlines(""), Vec::<&str>::new());
        assert_eq!(splitlines("a\n"), ["a"]);
        assert_eq!(splitlines("a\r\nb\rc\n\nd"), ["a", "b", "c", "", "d"]);
        assert_eq!(splitlines("a\u{2028}b\x0c"), ["a", "b"]);
    }

    #[test]
    fn sbat_merges_stub_kernel_and_text_under_one_header() {
        let stub_sbat = b"sbat,1,SBAT Version,sbat,1,https://x\nsystemd,1,The systemd Developers,systemd,252,https://systemd.io/\n\0\0\0";
        let stub = synth(
            AMD64,
            0x400,
            &[RET_TEXT, (".sbat", 0x2000, stub_sbat, 0x60)],
        );
        let kernel_sbat = b"sbat,1,SBAT Version,sbat,1,https://x\r\nlinux,1,The Linux Developers,linux,6.1,https://linux.org\r\n";
        let kernel = synth(
            AMD64,
            0x400,
            &[RET_TEXT, (".sbat", 0x2000, kernel_sbat, 0x60)],
        );
        let (s, k) = (Pe::parse(&stub).unwrap(), Pe::parse(&kernel).unwrap());
        let mut warnings = Vec::new();
        let texts = [
            "not sbat\nx,1\n".to_string(),
            "sbat,1,whatever\nextra,1,E,extra,1,https://e\n".to_string(),
        ];
        let merged = merge_sbat(
            &[("s", &s, &stub), ("k", &k, &kernel)],
            &texts,
            &mut warnings,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(merged).unwrap(),
            format!(
                "{SBAT_HEADER}\nsystemd,1,The systemd Developers,systemd,252,https://systemd.io/\n\
                 linux,1,The Linux Developers,linux,6.1,https://linux.org\n\
                 extra,1,E,extra,1,https://e\n\0"
            )
        );
        assert_eq!(
            warnings,
            ["--sbat text #1 does not start with an `sbat,` line; not merged into .sbat"]
        );
        // No --sbat: ukify's default `uki` entry.
        let merged = merge_sbat(&[], &[], &mut warnings).unwrap();
        assert_eq!(merged, format!("{DEFAULT_SBAT}\0").into_bytes());
    }

    #[test]
    fn initrds_are_padded_to_four_bytes_each() {
        assert_eq!(join_initrds(&[]), None);
        assert_eq!(join_initrds(&[vec![1; 5]]), Some(vec![1; 5]));
        let joined = join_initrds(&[vec![1; 5], vec![2; 7]]).unwrap();
        assert_eq!(joined, [&[1u8; 5][..], &[0; 3], &[2; 7], &[0; 1]].concat());
    }

    #[test]
    fn uname_from_the_x86_boot_header_and_from_text() {
        let mut k = vec![0u8; 0x400];
        k[..2].copy_from_slice(b"MZ");
        k[0x202..0x206].copy_from_slice(b"HdrS");
        wr16(&mut k, 0x20e, 0x100);
        let v = b"6.1.0-13-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC\0";
        k[0x300..0x300 + v.len()].copy_from_slice(v);
        assert_eq!(detect_uname(&k).as_deref(), Some("6.1.0-13-amd64"));
        // Not the pattern: no `#` after the builder.
        k[0x300..0x300 + 12].copy_from_slice(b"6.1 (x) SMP\0");
        assert_eq!(uname_from_x86_header(&k), None);

        let mut arm =
            b"MZ\0\0\0\0\0\0 Linux version x Linux version 6.12.3-arm64 (gcc) #1".to_vec();
        assert_eq!(detect_uname(&arm).as_deref(), Some("6.12.3-arm64"));
        arm[4..8].copy_from_slice(b"zimg");
        assert_eq!(detect_uname(&arm), None);
        assert_eq!(detect_uname(b"MZ\0\0\0\0\0\0Linux version 6.1\n("), None);
    }

    #[test]
    fn sections_are_appended_in_ukify_order_and_aligned() {
        let stub = synth(
            AMD64,
            0x400,
            &[
                (".text", 0x1000, &[0xc3; 0x30], 0x30),
                (".data", 0x2000, &[7; 0x210], 0x1234),
            ],
        );
        let kernel = synth(AMD64, 0x400, &[(".text", 0x1000, &[0x90; 0x300], 0x2800)]);
        let initrds = [vec![1u8; 5], vec![2u8; 7]];
        let uki = assemble(&Parts {
            os_release: Some(b"ID=test\n"),
            cmdline: Some(b"console=ttyS0"),
            uname: Some("6.1.0"),
            initrds: &initrds,
            ..parts(&stub, &kernel)
        })
        .unwrap();
        let pe = Pe::parse(&uki.image).unwrap();
        assert_eq!(
            names(&pe),
            [".text", ".data", ".osrel", ".cmdline", ".uname", ".linux", ".initrd", ".sbat"]
        );
        // .data ends at 0x3234: .osrel at 0x4000, then each at the next 0x1000 boundary.
        let rvas: Vec<u32> = pe.sections.iter().map(|s| s.virtual_address).collect();
        assert_eq!(
            rvas,
            [0x1000, 0x2000, 0x4000, 0x5000, 0x6000, 0x7000, 0x8000, 0x9000]
        );
        let linux = &pe.sections[5];
        assert_eq!(
            linux.virtual_size as usize,
            kernel.len(),
            "its length, as ukify"
        );
        assert_eq!(linux.characteristics, 0x4000_0020);
        assert_eq!(linux.raw(&uki.image), &kernel[..]);
        let initrd = &pe.sections[6];
        assert_eq!(initrd.virtual_size, 16);
        assert_eq!(
            &initrd.raw(&uki.image)[..16],
            [&[1u8; 5][..], &[0; 3], &[2; 7], &[0]].concat()
        );
        for s in &pe.sections {
            assert_eq!(s.pointer_to_raw_data % 0x200, 0, "{}", s.name());
            assert_eq!(s.size_of_raw_data % 0x200, 0, "{}", s.name());
        }
        assert_eq!(pe.sections[2].characteristics, 0x4000_0040);
        assert_eq!(pe.size_of_image, 0xa000);
        // The stub's own bytes are untouched up to its end.
        assert_eq!(uki.image[0x400..0xa00], stub[0x400..0xa00]);
        assert_eq!(
            pe.size_of_initialized_data,
            8 + 13 + 5 + kernel.len() as u32 + 16 + pe.sections[7].virtual_size
        );
        assert_eq!(
            rd32(&uki.image, pe.checksum_offset()),
            Some(peln_pe::checksum(&uki.image, pe.checksum_offset()))
        );
    }

    #[test]
    fn a_full_header_area_is_grown_and_offsets_follow() {
        // 0x200 bytes of headers hold the table at 0x148: room for 4 headers, the stub has 4.
        let four: Vec<(String, u32)> = (0..4)
            .map(|i| (format!(".s{i}"), 0x1000 * (i + 1)))
            .collect();
        let bodies: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i + 1; 0x40]).collect();
        let secs: Vec<(&str, u32, &[u8], u32)> = four
            .iter()
            .zip(&bodies)
            .map(|((n, rva), b)| (n.as_str(), *rva, b.as_slice(), 0x40))
            .collect();
        let mut stub = synth(AMD64, 0x200, &secs);
        // A debug directory in .s1 (RVA 0x2100, file 0x500) whose entry points at .s2's data
        // (file offset 0x600).
        let opt = 0x44 + 20;
        wr32(
            &mut stub,
            opt + 112 + 8 * IMAGE_DIRECTORY_ENTRY_DEBUG,
            0x2100,
        );
        wr32(
            &mut stub,
            opt + 112 + 8 * IMAGE_DIRECTORY_ENTRY_DEBUG + 4,
            28,
        );
        wr32(&mut stub, 0x500 + 16, 0x10); // SizeOfData
        wr32(&mut stub, 0x500 + 20, 0x3000); // AddressOfRawData
        wr32(&mut stub, 0x500 + 24, 0x600); // PointerToRawData
        let kernel = nop_kernel();
        let uki = assemble(&Parts {
            cmdline: Some(b"quiet"),
            ..parts(&stub, &kernel)
        })
        .unwrap();
        let pe = Pe::parse(&uki.image).unwrap();
        // 4 + .cmdline .linux .sbat: the table ends at 0x260, so the data moves down 0x200.
        assert_eq!(pe.sections.len(), 7);
        assert_eq!(pe.size_of_headers, 0x400);
        for (i, s) in pe.sections[..4].iter().enumerate() {
            assert_eq!(
                s.pointer_to_raw_data,
                0x400 + 0x200 * i as u32,
                "{}",
                s.name()
            );
            assert_eq!(&s.raw(&uki.image)[..0x40], &[i as u8 + 1; 0x40]);
        }
        let entry = pe.rva_to_offset(0x2100, 28).unwrap();
        assert_eq!(entry, 0x700);
        assert_eq!(
            rd32(&uki.image, entry + 24),
            Some(0x800),
            "debug PointerToRawData moved"
        );
    }

    #[test]
    fn headers_that_would_reach_the_first_section_are_refused() {
        // SectionAlignment 0x1000 but the first section at RVA 0x200: no room to grow into.
        let mut stub = synth(
            AMD64,
            0x200,
            &[
                (".a", 0x200, &[1; 8], 8),
                (".b", 0x1000, &[2; 8], 8),
                (".c", 0x2000, &[3; 8], 8),
                (".d", 0x3000, &[3; 8], 8),
            ],
        );
        wr32(&mut stub, 0x44 + 20 + 32, 0x200);
        let kernel = nop_kernel();
        let err = assemble(&Parts {
            cmdline: Some(b"x"),
            ..parts(&stub, &kernel)
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "stub.efi: no room for the new section headers: the headers would end at 0x400, past the first section at RVA 0x200"
        );
    }

    #[test]
    fn a_trailing_symbol_table_is_stripped() {
        let mut stub = synth(AMD64, 0x400, &[(".text", 0x1000, &[0xc3; 0x10], 0x10)]);
        let symtab = stub.len() as u32;
        stub.extend_from_slice(&[0xee; 18 * 2]);
        stub.extend_from_slice(&8u32.to_le_bytes());
        stub.extend_from_slice(b"abcd");
        wr32(&mut stub, 0x44 + 8, symtab);
        wr32(&mut stub, 0x44 + 12, 2);
        let kernel = nop_kernel();
        let uki = assemble(&parts(&stub, &kernel)).unwrap();
        let pe = Pe::parse(&uki.image).unwrap();
        assert_eq!((pe.pointer_to_symbol_table, pe.number_of_symbols), (0, 0));
        assert_eq!(
            uki.image[0x44 + 18..0x44 + 20],
            stub[0x44 + 18..0x44 + 20],
            "Characteristics"
        );
        assert_eq!(
            pe.sections[1].pointer_to_raw_data, symtab,
            ".linux where the symbols were"
        );
        assert!(!uki.image.windows(4).any(|w| w == b"\xee\xee\xee\xee"));
    }

    #[test]
    fn stub_sbat_is_replaced_in_place_or_moved_when_too_small() {
        let old = b"sbat,1,SBAT Version,sbat,1,https://x\nstub,1,S,stub,1,https://s\n";
        let stub = synth(
            AMD64,
            0x400,
            &[
                RET_TEXT,
                (".sbat", 0x2000, old, old.len() as u32),
                (".sdmagic", 0x3000, b"#### magic", 10),
            ],
        );
        let kernel = nop_kernel();
        let uki = assemble(&parts(&stub, &kernel)).unwrap();
        let pe = Pe::parse(&uki.image).unwrap();
        assert_eq!(names(&pe), [".text", ".sbat", ".sdmagic", ".linux"]);
        let sbat = &pe.sections[1];
        let want = format!("{SBAT_HEADER}\nstub,1,S,stub,1,https://s\nuki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n\0");
        assert_eq!(sbat.virtual_size as usize, want.len());
        assert_eq!(&sbat.raw(&uki.image)[..want.len()], want.as_bytes());
        assert!(uki.warnings.is_empty());

        // Debian's 252 stub: .sdmagic 0x100 after .sbat, too close for the merged text.
        let cramped = synth(
            AMD64,
            0x400,
            &[
                RET_TEXT,
                (".sbat", 0x2000, old, old.len() as u32),
                (".sdmagic", 0x2080, b"#### magic", 10),
            ],
        );
        let uki = assemble(&parts(&cramped, &kernel)).unwrap();
        let pe = Pe::parse(&uki.image).unwrap();
        assert_eq!(names(&pe), [".text", ".sdmagic", ".linux", ".sbat"]);
        assert_eq!(
            &pe.sections[3].raw(&uki.image)[..want.len()],
            want.as_bytes()
        );
        assert!(
            uki.warnings[0].contains("its .sbat section has room for 0x80 bytes"),
            "{:?}",
            uki.warnings
        );
        // The old .sbat bytes are zeroed: the stub's entry is only in the merged section.
        assert_eq!(
            uki.image.windows(8).filter(|w| *w == b"stub,1,S").count(),
            1
        );
    }

    #[test]
    fn damaged_stubs_are_errors_not_panics() {
        let old = b"sbat,1,SBAT Version,sbat,1,https://x\nstub,1,S,stub,1,https://s\n";
        let stub = synth(
            AMD64,
            0x400,
            &[
                (".text", 0x1000, &[0xc3; 0x300], 0x300),
                (".sbat", 0x2000, old, old.len() as u32),
                (".reloc", 0x3000, &[0; 12], 12),
            ],
        );
        let kernel = nop_kernel();
        let initrds = [vec![1u8; 3]];
        let build = |s: &[u8]| {
            let _ = assemble(&Parts {
                cmdline: Some(b"x"),
                initrds: &initrds,
                ..parts(s, &kernel)
            });
            let _ = assemble(&parts(&kernel, s));
        };
        for len in (0..stub.len()).step_by(7) {
            build(&stub[..len]);
        }
        // Every header byte (DOS, COFF, optional header, section table) set to 0x00, 0x7f, 0xff.
        for at in 0..0x148 + 3 * 40 {
            for v in [0x00, 0x7f, 0xff] {
                let mut bad = stub.clone();
                bad[at] = v;
                build(&bad);
            }
        }
    }

    #[test]
    fn bad_stubs_and_kernels_are_refused() {
        let stub = synth(AMD64, 0x400, &[RET_TEXT]);
        let arm = synth(0xaa64, 0x400, &[RET_TEXT]);
        let err = |s: &[u8], k: &[u8]| assemble(&parts(s, k)).unwrap_err().to_string();
        assert_eq!(
            err(&stub, &arm),
            "kernel vmlinuz is for machine 0xaa64 (arm64) but stub stub.efi is for machine 0x8664 (amd64)"
        );
        assert_eq!(
            err(b"\x7fELF\x02\x01\x01", &stub),
            "stub.efi: not a PE image: it is an ELF file"
        );
        assert_eq!(
            err(&stub, b"hello"),
            "vmlinuz: not a PE image: no MZ signature"
        );
        let i386 = synth(0x14c, 0x400, &[RET_TEXT]);
        assert_eq!(
            err(&i386, &stub),
            "stub.efi: stub machine 0x014c is not amd64, arm64, riscv64 or loongarch64"
        );
        let clash = synth(AMD64, 0x400, &[RET_TEXT, (".linux", 0x2000, b"x", 1)]);
        assert_eq!(
            err(&clash, &stub),
            "stub.efi: the stub already has a .linux section, which the UKI would add"
        );
        let mut signed = stub.clone();
        wr32(
            &mut signed,
            0x44 + 20 + 112 + 8 * IMAGE_DIRECTORY_ENTRY_SECURITY,
            0x600,
        );
        wr32(
            &mut signed,
            0x44 + 20 + 112 + 8 * IMAGE_DIRECTORY_ENTRY_SECURITY + 4,
            0x10,
        );
        assert_eq!(
            err(&signed, &stub),
            "stub.efi: the stub is signed (it has a certificate table), and its signature cannot \
             cover the UKI: sign the UKI (--secureboot-private-key, --secureboot-certificate), \
             which drops the stub's"
        );
        let mut truncated = stub.clone();
        truncated.truncate(0x100);
        assert!(err(&truncated, &stub).starts_with("stub.efi: not a PE image"));
    }
}
