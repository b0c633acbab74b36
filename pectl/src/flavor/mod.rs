//! The command-line languages toolchains already speak to their linker, chosen as lld chooses:
//! `-flavor link|gnu` as the first argument (rustc sends it to any linker whose name it does not
//! know), else the program's name (`lld-link`, `link`; `ld`, `ld.lld`, `*-ld`), else `None` and
//! pectl's own subcommands. Each flavour parses into the linker's [`LinkArgs`]; parsing reads
//! nothing but `@response` files.
use std::ffi::OsString;
use std::path::Path;

use peln_linker::LinkArgs;

pub use crate::Error;

pub mod gnu;
pub mod link;
pub mod rsp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// lld-link / MSVC `link.exe` style.
    Link,
    /// GNU ld style.
    Gnu,
}

/// The flavour `argv` asks for and where its linker arguments start, or `None` for pectl's own
/// CLI.
pub fn detect(argv: &[OsString]) -> Result<Option<(Flavor, usize)>, Error> {
    let (flavor, start) = if argv.get(1).is_some_and(|a| a == "-flavor") {
        let name = argv.get(2).ok_or("-flavor needs a value: link or gnu")?;
        let flavor = match name.to_str() {
            Some("link" | "lld-link") => Flavor::Link,
            Some("gnu" | "ld" | "ld.lld") => Flavor::Gnu,
            _ => {
                return Err(format!(
                    "-flavor {}: pectl speaks link (lld-link) and gnu (ld.lld)",
                    name.to_string_lossy()
                )
                .into())
            }
        };
        (flavor, 3)
    } else {
        match argv.first().and_then(|a| flavor_of_program(Path::new(a))) {
            Some(f) => (f, 1),
            None => return Ok(None),
        }
    };
    // rustc sends lld-link arguments, without `-flavor`, to a linker named `ld.lld`.
    let msvc_args = argv
        .get(start)
        .and_then(|a| a.to_str())
        .is_some_and(|a| a.starts_with('/') && link::is_option(a));
    Ok(Some(if msvc_args {
        (Flavor::Link, start)
    } else {
        (flavor, start)
    }))
}

/// lld's rule for its program name, plus a `-19`-style version suffix (`ld.lld-19`).
fn flavor_of_program(path: &Path) -> Option<Flavor> {
    let name = path.file_name()?.to_str()?;
    let name = name.strip_suffix(".exe").unwrap_or(name);
    let name = match name.rsplit_once('-') {
        Some((base, version)) if version.chars().all(|c| c.is_ascii_digit()) => base,
        _ => name,
    };
    match name {
        "lld-link" | "link" => Some(Flavor::Link),
        "ld" | "ld.lld" => Some(Flavor::Gnu),
        n if n.ends_with("-ld") || n.ends_with("-ld.lld") => Some(Flavor::Gnu),
        _ => None,
    }
}

/// A flavour's command line: the link it asks for, and whether it asks to be told each phase's
/// time (lld-link's `/TIME`, which changes nothing in the image).
#[derive(Debug)]
pub struct Parsed {
    pub link: LinkArgs,
    pub time: bool,
}

/// Parses a flavour's arguments (response files expanded) into what the linker takes.
pub fn parse(flavor: Flavor, args: &[OsString]) -> Result<Parsed, Error> {
    let args = args
        .iter()
        .map(|a| {
            a.to_str()
                .map(String::from)
                .ok_or_else(|| format!("argument {} is not UTF-8", a.to_string_lossy()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    match flavor {
        Flavor::Link => link::parse(&rsp::expand(&args, rsp::Quoting::Windows)?),
        Flavor::Gnu => Ok(Parsed {
            link: gnu::parse(&rsp::expand(&args, rsp::Quoting::Gnu)?)?,
            time: false,
        }),
    }
}

/// Decimal or `0x` hex, `_` separators allowed.
pub fn parse_number(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => s.replace('_', "").parse(),
    };
    parsed.map_err(|e| format!("`{s}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_str(argv: &[&str]) -> Option<(Flavor, usize)> {
        let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
        detect(&argv).unwrap()
    }

    #[test]
    fn flavor_argument_then_program_name_then_own_cli() {
        assert_eq!(
            detect_str(&["/x/pectl", "-flavor", "link", "/NOLOGO"]),
            Some((Flavor::Link, 3))
        );
        assert_eq!(
            detect_str(&["pectl", "-flavor", "gnu", "a.o"]),
            Some((Flavor::Gnu, 3))
        );
        assert_eq!(
            detect_str(&["/b/lld-link", "-out:x"]),
            Some((Flavor::Link, 1))
        );
        assert_eq!(
            detect_str(&["LINK.EXE", "a"]),
            None,
            "names are exact, as lld's"
        );
        assert_eq!(detect_str(&["link.exe", "a"]), Some((Flavor::Link, 1)));
        for gnu in ["ld", "/p/ld.lld", "ld.lld-19", "riscv64-unknown-elf-ld"] {
            assert_eq!(detect_str(&[gnu, "a.o"]), Some((Flavor::Gnu, 1)), "{gnu}");
        }
        assert_eq!(detect_str(&["pectl", "link", "--machine", "amd64"]), None);
        assert_eq!(detect_str(&["pectl-link", "x"]), None);
    }

    #[test]
    fn gnu_name_with_msvc_arguments_is_lld_link() {
        assert_eq!(
            detect_str(&["/b/ld.lld", "/NOLOGO", "/entry:efi_main"]),
            Some((Flavor::Link, 1))
        );
        assert_eq!(
            detect_str(&["/b/ld.lld", "/tmp/a.o", "-o", "x"]),
            Some((Flavor::Gnu, 1))
        );
    }

    #[test]
    fn lld_link_time_asks_for_each_phase_time_also_from_a_response_file() {
        let time = |args: &[&str]| {
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            parse(Flavor::Link, &args).unwrap().time
        };
        assert!(time(&["/out:a.efi", "/TIME", "a.obj"]));
        assert!(time(&["-time", "/out:a.efi", "a.obj"]));
        assert!(!time(&["/out:a.efi", "a.obj"]));
        let dir = tempfile::tempdir().unwrap();
        let rsp = dir.path().join("link.rsp");
        std::fs::write(&rsp, "/time a.obj").unwrap();
        assert!(time(&["/out:a.efi", &format!("@{}", rsp.display())]));
    }

    #[test]
    fn unknown_flavor_is_an_error() {
        let argv: Vec<OsString> = ["pectl", "-flavor", "darwin"].map(OsString::from).into();
        assert_eq!(
            detect(&argv).unwrap_err().to_string(),
            "-flavor darwin: pectl speaks link (lld-link) and gnu (ld.lld)"
        );
    }
}
