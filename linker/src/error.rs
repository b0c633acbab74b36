//! Typed errors. Every variant carries the context a user needs to find the problem (file, section,
//! offset, symbol) in its `Display`, so the CLI prints errors as they are.
use std::fmt;
use std::path::PathBuf;

pub type Result<T = ()> = std::result::Result<T, Error>;

/// How many errors of one phase are printed, as lld's default `--error-limit`.
pub const ERROR_LIMIT: usize = 20;

/// One place that refers to a symbol: used in undefined-symbol reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub file: String,
    pub section: String,
    pub offset: u64,
    /// The function containing the reference, when the symbol table tells.
    pub function: Option<String>,
    /// `file:line` from DWARF, when the object carries line tables.
    pub line: Option<String>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:({}+{:#x})", self.file, self.section, self.offset)?;
        if let Some(func) = &self.function {
            write!(f, " in function `{func}`")?;
        }
        if let Some(line) = &self.line {
            write!(f, " at {line}")?;
        }
        Ok(())
    }
}

/// Where a relocation is and what it references: the context every error about its value prints.
/// Boxed in the variants that carry it, so that `Result` stays small on the path that succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelocSite {
    pub reloc: &'static str,
    pub symbol: String,
    pub file: String,
    pub section: String,
    pub offset: u64,
}

impl fmt::Display for RelocSite {
    /// The place only: messages put the relocation and the symbol where they read best.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:({}+{:#x})", self.file, self.section, self.offset)
    }
}

#[derive(Debug)]
pub enum Error {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `-o` names one of the inputs.
    OutputIsInput {
        output: PathBuf,
        input: PathBuf,
    },
    /// The file is not an object, archive or image we can read.
    Parse {
        file: String,
        reason: String,
    },
    WrongMachine {
        file: String,
        found: String,
        expected: &'static str,
    },
    /// Inputs for two machines, each as `file (machine)`.
    MixedMachines {
        first: String,
        second: String,
    },
    /// Options that contradict each other or what pectl writes.
    Usage(String),
    /// No input is an object, so nothing says which machine the image is for.
    NoMachine,
    LibraryNotFound {
        name: String,
        searched: Vec<PathBuf>,
    },
    Undefined {
        symbol: String,
        references: Vec<Reference>,
    },
    Duplicate {
        symbol: String,
        first: String,
        second: String,
    },
    Comdat {
        symbol: String,
        first: String,
        second: String,
        reason: &'static str,
    },
    NoEntry {
        symbol: String,
    },
    UnknownRelocation {
        file: String,
        section: String,
        offset: u64,
        r_type: String,
    },
    /// The value is outside what the field holds (`range` as `[-2^27, 2^27)`).
    RelocOverflow {
        site: Box<RelocSite>,
        value: i64,
        range: String,
    },
    /// The target is not a multiple of the unit the instruction encodes it in (a branch to an
    /// odd address, a scaled load/store offset).
    RelocMisaligned {
        site: Box<RelocSite>,
        target: u64,
        align: u64,
    },
    /// An absolute address in a form (narrower than 64 bits, or spread over instructions) that
    /// firmware cannot relocate.
    UnrelocatableAbsolute {
        site: Box<RelocSite>,
        hint: &'static str,
    },
    BadRelocation {
        reloc: &'static str,
        file: String,
        section: String,
        offset: u64,
        reason: String,
    },
    ImageTooLarge {
        size: u64,
    },
    /// The written image fails `pectl verify`'s load checks: a linker bug, never an input fault,
    /// so the output is not replaced.
    Unloadable {
        path: PathBuf,
        report: String,
    },
    /// Several independent errors found in one phase (all overflows, all undefined symbols).
    Many(Vec<Error>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::OutputIsInput { output, input } => f.write_str(
                &peln_pe::output::refusal_to_overwrite(output.display(), input.display()),
            ),
            Error::Parse { file, reason } => write!(f, "{file}: cannot read input: {reason}"),
            Error::WrongMachine {
                file,
                found,
                expected,
            } => write!(
                f,
                "{file}: machine {found} does not match --machine {expected}"
            ),
            Error::MixedMachines { first, second } => {
                write!(f, "inputs are for different machines: {first} and {second}")
            }
            Error::Usage(reason) => write!(f, "{reason}"),
            Error::NoMachine => write!(
                f,
                "no input object tells the machine; name it (--machine, /MACHINE, -m)"
            ),
            Error::LibraryNotFound { name, searched } => {
                write!(f, "library -l{name} not found; searched:")?;
                for p in searched {
                    write!(f, " {}", p.display())?;
                }
                Ok(())
            }
            Error::Undefined { symbol, references } => {
                write!(f, "undefined symbol: {symbol}")?;
                for r in references {
                    write!(f, "\n>>> referenced by {r}")?;
                }
                Ok(())
            }
            Error::Duplicate {
                symbol,
                first,
                second,
            } => write!(
                f,
                "duplicate symbol: {symbol}\n>>> defined in {first}\n>>> defined in {second}"
            ),
            Error::Comdat {
                symbol,
                first,
                second,
                reason,
            } => write!(
                f,
                "COMDAT conflict for {symbol}: {reason}\n>>> in {first}\n>>> in {second}"
            ),
            Error::NoEntry { symbol } => write!(f, "entry point `{symbol}` is not defined"),
            Error::UnknownRelocation {
                file,
                section,
                offset,
                r_type,
            } => write!(
                f,
                "{file}:({section}+{offset:#x}): unknown relocation type {r_type}"
            ),
            Error::RelocOverflow { site, value, range } => write!(
                f,
                "{site}: relocation {} out of range: {value} ({value:#x}) is not in {range}; \
                 references `{}`",
                site.reloc, site.symbol
            ),
            Error::RelocMisaligned {
                site,
                target,
                align,
            } => write!(
                f,
                "{site}: relocation {} misaligned: target {target:#x} is not a multiple of \
                 {align} (the instruction encodes it in {align}-byte units); references `{}`",
                site.reloc, site.symbol
            ),
            Error::UnrelocatableAbsolute { site, hint } => write!(
                f,
                "{site}: {} against `{}` stores an absolute address in a form UEFI firmware \
                 cannot relocate; {hint}",
                site.reloc, site.symbol
            ),
            Error::BadRelocation {
                reloc,
                file,
                section,
                offset,
                reason,
            } => {
                write!(f, "{file}:({section}+{offset:#x}): {reloc}: {reason}")
            }
            Error::ImageTooLarge { size } => {
                write!(f, "image size {size:#x} exceeds the 4 GiB limit of PE32+")
            }
            Error::Unloadable { path, report } => write!(
                f,
                "{}: UEFI firmware would not load it (pectl verify): {report}",
                path.display()
            ),
            Error::Many(errors) => {
                for (i, e) in errors.iter().take(ERROR_LIMIT).enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{e}")?;
                }
                if errors.len() > ERROR_LIMIT {
                    write!(f, "\n... and {} more errors", errors.len() - ERROR_LIMIT)?;
                }
                Ok(())
            }
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

impl Error {
    /// Folds a list of errors into one; `Ok` when the list is empty.
    pub fn check(mut errors: Vec<Error>) -> Result {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.pop().unwrap()),
            _ => Err(Error::Many(errors)),
        }
    }
}
