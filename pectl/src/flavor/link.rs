//! lld-link style: what rustc sends for `*-unknown-uefi`, what clang's MSVC driver and EDK2's
//! CLANGPDB toolchain send. Options are case-insensitive, start with `/` or `-`, and take their
//! value after `:`.
use std::path::PathBuf;

use object::pe::{
    IMAGE_SCN_MEM_DISCARDABLE, IMAGE_SCN_MEM_EXECUTE, IMAGE_SCN_MEM_NOT_CACHED,
    IMAGE_SCN_MEM_NOT_PAGED, IMAGE_SCN_MEM_READ, IMAGE_SCN_MEM_SHARED, IMAGE_SCN_MEM_WRITE,
};
use peln_linker::{icf, DefaultLibs, LinkArgs, Machine, Subsystem};

use super::{parse_number, Error, Parsed};

/// Options that change nothing in a UEFI image. They are accepted silently: EDK2 links with
/// `/WX`, so a warning would fail its build.
const NO_OPS: &[&str] = &[
    "brepro",
    "dynamicbase",
    "emitpogophaseinfo",
    "errorlimit",
    "guard",
    "heap",
    "highentropyva",
    "ignore",
    "incremental",
    "largeaddressaware",
    "manifest",
    "manifestuac",
    "mllvm",
    "natvis",
    "nologo",
    "nxcompat",
    "pdb",
    "pdbaltpath",
    "pdbsourcepath",
    "release",
    "safeseh",
    "stack",
    "tsaware",
    "verbose",
    "version",
    "wx",
];

/// An argument that is an lld-link option rather than an input: `-` or `/` and a name without a
/// path's `/` or `.`. On Unix an absolute path also starts with `/`; lld-link tells them apart
/// the same way, by whether the text before `:` could be an option name.
pub fn is_option(arg: &str) -> bool {
    let Some(body) = arg.strip_prefix(['/', '-']) else {
        return false;
    };
    let name = body.split_once(':').map_or(body, |(n, _)| n);
    !name.is_empty() && !name.contains(['/', '.', '\\'])
}

pub fn parse(args: &[String]) -> Result<Parsed, Error> {
    let mut out = LinkArgs::new(PathBuf::new());
    let mut time = false;
    let mut output = None;
    let mut default_libs: Vec<String> = Vec::new();
    let mut no_default: Option<Vec<String>> = Some(Vec::new());
    let mut whole_all = false;
    let mut debug = false;
    let mut opt_ref = None;
    let mut opt_icf = None;
    let mut map: Option<Option<String>> = None;
    for arg in args {
        if !is_option(arg) {
            out.inputs.push(arg.into());
            continue;
        }
        let body = &arg[1..];
        let (name, value) = match body.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let need = || value.ok_or_else(|| Error::from(format!("{arg}: needs a value")));
        let lname = name.to_ascii_lowercase();
        match lname.as_str() {
            "out" => output = Some(PathBuf::from(need()?)),
            "entry" => out.entry = need()?.to_string(),
            "subsystem" => (out.subsystem, out.subsystem_version) = subsystem(arg, need()?)?,
            "machine" => out.machine = Some(machine(arg, need()?)?),
            "libpath" => out.lib_dirs.push(need()?.into()),
            "defaultlib" => default_libs.push(need()?.to_string()),
            "nodefaultlib" => match (value, &mut no_default) {
                (None, _) => no_default = None,
                (Some(lib), Some(names)) => names.push(lib.to_string()),
                (Some(_), None) => {}
            },
            "wholearchive" => match value {
                Some(lib) => out.whole_archives.push(lib.into()),
                None => whole_all = true,
            },
            "include" => out.undefined.push(need()?.to_string()),
            "opt" => {
                for o in need()?.split(',') {
                    match o.to_ascii_lowercase().as_str() {
                        "ref" => opt_ref = Some(true),
                        "noref" => opt_ref = Some(false),
                        // `=n` bounds MSVC's iterations; lld-link (and pectl) fold to the end.
                        o if o == "icf" || o.starts_with("icf=") => opt_icf = Some(icf::Level::All),
                        "safeicf" => opt_icf = Some(icf::Level::Safe),
                        "noicf" => opt_icf = Some(icf::Level::None),
                        "lbr" | "nolbr" => {}
                        o if o.starts_with("lldlto") => {}
                        _ => return Err(format!("{arg}: unknown /OPT value `{o}`").into()),
                    }
                }
            }
            "debug" => match value.map(str::to_ascii_lowercase).as_deref() {
                Some("none") => {
                    debug = false;
                    out.strip_debug = true;
                }
                _ => debug = true,
            },
            "base" => out.image_base = Some(number(arg, need()?)?),
            "align" => out.sections.section_alignment = alignment(arg, need()?)?,
            "filealign" => out.sections.file_alignment = alignment(arg, need()?)?,
            "merge" => {
                let (from, to) = need()?
                    .split_once('=')
                    .ok_or_else(|| format!("{arg}: expected /MERGE:from=to"))?;
                out.sections.merge.push((from.into(), to.into()));
            }
            "section" => {
                let (section, attrs) = need()?
                    .split_once(',')
                    .ok_or_else(|| format!("{arg}: expected /SECTION:name,attributes"))?;
                out.sections
                    .permissions
                    .push((section.into(), permissions(arg, attrs)?));
            }
            "dll" => out.dll = true,
            // A driver is an EFI_BOOT_SERVICE_DRIVER by its /SUBSYSTEM; /DRIVER's WDM and
            // uniprocessor flags mean nothing to firmware.
            "driver" => {}
            "map" | "lldmap" => map = Some(value.map(String::from)),
            // Changes nothing in the image: the caller prints each phase's time.
            "time" => time = true,
            n if NO_OPS.contains(&n) => {}
            _ => return Err(format!("unknown lld-link option `{arg}`").into()),
        }
    }
    out.output = output.ok_or("no output file: pass /OUT:file")?;
    out.gc_sections = opt_ref.unwrap_or(!debug);
    // lld-link folds whenever it collects garbage, unless told otherwise.
    out.icf = opt_icf.unwrap_or(match out.gc_sections {
        true => icf::Level::All,
        false => icf::Level::None,
    });
    out.map = map.map(|m| match m {
        Some(path) => PathBuf::from(path),
        None => out.output.with_extension("map"),
    });
    if whole_all {
        out.whole_archives.extend(out.inputs.iter().cloned());
    }
    match no_default {
        None => out.default_libs = DefaultLibs::None,
        Some(names) => {
            out.libs.extend(
                default_libs
                    .iter()
                    .filter(|l| !names.iter().any(|n| n.eq_ignore_ascii_case(l)))
                    .cloned(),
            );
            if !names.is_empty() {
                out.default_libs = DefaultLibs::Except(names);
            }
        }
    }
    Ok(Parsed { link: out, time })
}

fn subsystem(arg: &str, value: &str) -> Result<(Subsystem, (u16, u16)), Error> {
    let (name, version) = match value.split_once(',') {
        Some((n, v)) => (n, Some(v)),
        None => (value, None),
    };
    let subsystem = Subsystem::from_name(&name.to_ascii_lowercase()).ok_or_else(|| {
        format!(
            "{arg}: a UEFI image's subsystem is EFI_APPLICATION, EFI_BOOT_SERVICE_DRIVER or \
             EFI_RUNTIME_DRIVER"
        )
    })?;
    let version = match version {
        None => (0, 0),
        Some(v) => {
            let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
            let part = |p: &str| {
                p.parse::<u16>()
                    .map_err(|_| format!("{arg}: version `{v}` is not major[.minor]"))
            };
            (part(major)?, part(minor)?)
        }
    };
    Ok((subsystem, version))
}

fn machine(arg: &str, value: &str) -> Result<Machine, Error> {
    Machine::from_name(&value.to_ascii_lowercase())
        .ok_or_else(|| format!("{arg}: expected X64, ARM64, RISCV64 or LOONGARCH64").into())
}

fn number(arg: &str, value: &str) -> Result<u64, Error> {
    parse_number(value).map_err(|e| format!("{arg}: {e}").into())
}

fn alignment(arg: &str, value: &str) -> Result<u32, Error> {
    match u32::try_from(number(arg, value)?) {
        Ok(n) if n.is_power_of_two() => Ok(n),
        _ => Err(format!("{arg}: not a power of two").into()),
    }
}

/// `/SECTION` attribute letters, as lld-link reads them.
fn permissions(arg: &str, letters: &str) -> Result<u32, Error> {
    letters
        .chars()
        .try_fold(0, |bits, c| {
            let bit = match c.to_ascii_lowercase() {
                'd' => IMAGE_SCN_MEM_DISCARDABLE,
                'e' => IMAGE_SCN_MEM_EXECUTE,
                'k' => IMAGE_SCN_MEM_NOT_CACHED,
                'p' => IMAGE_SCN_MEM_NOT_PAGED,
                'r' => IMAGE_SCN_MEM_READ,
                's' => IMAGE_SCN_MEM_SHARED,
                'w' => IMAGE_SCN_MEM_WRITE,
                _ => return Err(format!("{arg}: unknown section attribute `{c}` (DEKPRSW)")),
            };
            Ok(bits | bit.0)
        })
        .map_err(Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<LinkArgs, Error> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args).map(|p| p.link)
    }

    #[test]
    fn rustc_uefi_release_command_line() {
        let a = parse_str(
            "/NOLOGO /entry:efi_main /subsystem:efi_application /tmp/rustc1/symbols.o \
             /t/deps/app.app.1-cgu.0.rcgu.o /s/lib/liballoc-1.rlib /s/lib/libcore-2.rlib \
             /NXCOMPAT /OUT:/t/deps/app-3.efi /OPT:REF,ICF /DEBUG /PDBALTPATH:%_PDB% /NODEFAULTLIB",
        )
        .unwrap();
        assert_eq!(a.machine, None, "rustc passes no /machine on x86_64");
        assert_eq!(a.entry, "efi_main");
        assert_eq!(a.subsystem, Subsystem::EfiApplication);
        assert_eq!(a.output, PathBuf::from("/t/deps/app-3.efi"));
        assert_eq!(
            a.inputs,
            [
                "/tmp/rustc1/symbols.o",
                "/t/deps/app.app.1-cgu.0.rcgu.o",
                "/s/lib/liballoc-1.rlib",
                "/s/lib/libcore-2.rlib"
            ]
            .map(PathBuf::from)
        );
        assert!(a.gc_sections, "/OPT:REF wins over /DEBUG's default");
        assert_eq!(a.icf, icf::Level::All);
        assert!(!a.strip_debug);
        assert_eq!(a.default_libs, DefaultLibs::None);
        assert!(a.map.is_none());
    }

    #[test]
    fn options_are_case_insensitive_with_slash_or_dash() {
        let a = parse_str("-out:x.efi -ENTRY:main /Machine:ARM64 -defaultlib:libcmt -nologo a.obj")
            .unwrap();
        assert_eq!(a.machine, Some(Machine::Arm64));
        assert_eq!(a.entry, "main");
        assert_eq!(a.libs, ["libcmt"]);
        assert_eq!(a.default_libs, DefaultLibs::All);
    }

    #[test]
    fn debug_turns_gc_off_unless_opt_ref_and_debug_none_strips() {
        assert!(parse_str("/out:x a.o").unwrap().gc_sections);
        assert!(!parse_str("/out:x /debug a.o").unwrap().gc_sections);
        assert!(!parse_str("/out:x /opt:noref a.o").unwrap().gc_sections);
        let a = parse_str("/out:x /DEBUG:NONE a.o").unwrap();
        assert!(a.gc_sections && a.strip_debug);
    }

    #[test]
    fn icf_follows_gc_unless_an_opt_value_says_otherwise() {
        use icf::Level::{All, None, Safe};
        let icf = |line: &str| parse_str(line).unwrap().icf;
        assert_eq!(
            icf("/out:x a.o"),
            All,
            "lld-link folds whenever it collects garbage"
        );
        assert_eq!(icf("/out:x /debug a.o"), None);
        assert_eq!(icf("/out:x /debug /opt:ref,icf a.o"), All);
        assert_eq!(icf("/out:x /opt:noref /OPT:ICF=10 a.o"), All);
        assert_eq!(icf("/out:x /opt:safeicf a.o"), Safe);
        assert_eq!(icf("/out:x /opt:ref,noicf a.o"), None);
    }

    #[test]
    fn edk2_clangpdb_release_command_line() {
        let a = parse_str(
            "/OUT:/b/Hello.dll /NOLOGO /NODEFAULTLIB /IGNORE:4001 /OPT:REF /OPT:ICF=10 \
             /ALIGN:4096 /DRIVER /FILEALIGN:32 /Machine:X64 /DLL /ENTRY:_ModuleEntryPoint \
             /SUBSYSTEM:EFI_BOOT_SERVICE_DRIVER /SAFESEH:NO /BASE:0 /DEBUG:GHASH \
             /MLLVM:-exception-model=wineh /lldmap /IGNORE:4254 /SECTION:.xdata,D \
             /SECTION:.pdata,D /MERGE:.rdata=.data /WX a.obj",
        )
        .unwrap();
        assert_eq!(a.machine, Some(Machine::Amd64));
        assert_eq!(a.subsystem, Subsystem::EfiBootServiceDriver);
        assert_eq!(a.image_base, Some(0));
        assert_eq!(
            (a.sections.section_alignment, a.sections.file_alignment),
            (4096, 32)
        );
        assert!(a.dll && a.gc_sections);
        assert_eq!(a.sections.merge, [(".rdata".into(), ".data".into())]);
        assert_eq!(
            a.sections.permissions,
            [
                (".xdata".into(), IMAGE_SCN_MEM_DISCARDABLE.0),
                (".pdata".into(), IMAGE_SCN_MEM_DISCARDABLE.0)
            ]
        );
        assert_eq!(a.map, Some(PathBuf::from("/b/Hello.map")));
    }

    #[test]
    fn subsystem_version_libpath_wholearchive_and_nodefaultlib_by_name() {
        let a = parse_str(
            "/out:x /subsystem:EFI_RUNTIME_DRIVER,2.5 /libpath:/l /wholearchive:libw.a \
             /defaultlib:a /defaultlib:b.lib /nodefaultlib:B.LIB /map:m.txt libfoo.a",
        )
        .unwrap();
        assert_eq!(a.subsystem, Subsystem::EfiRuntimeDriver);
        assert_eq!(a.subsystem_version, (2, 5));
        assert_eq!(a.lib_dirs, [PathBuf::from("/l")]);
        assert_eq!(a.whole_archives, [PathBuf::from("libw.a")]);
        assert_eq!(a.libs, ["a"]);
        assert_eq!(a.default_libs, DefaultLibs::Except(vec!["B.LIB".into()]));
        assert_eq!(a.map, Some(PathBuf::from("m.txt")));
        assert_eq!(a.inputs, [PathBuf::from("libfoo.a")]);
    }

    #[test]
    fn unknown_options_and_bad_values_are_errors_that_name_them() {
        let err = |line: &str| parse_str(line).unwrap_err().to_string();
        assert_eq!(err("/out:x /FOO a.o"), "unknown lld-link option `/FOO`");
        assert_eq!(err("/out:x -bar:1 a.o"), "unknown lld-link option `-bar:1`");
        assert_eq!(err("a.o"), "no output file: pass /OUT:file");
        assert_eq!(
            err("/out:x /opt:fast"),
            "/opt:fast: unknown /OPT value `fast`"
        );
        assert_eq!(
            err("/out:x /machine:arm"),
            "/machine:arm: expected X64, ARM64, RISCV64 or LOONGARCH64"
        );
        assert_eq!(err("/out:x /align:3000"), "/align:3000: not a power of two");
        assert_eq!(
            err("/out:x /section:.text,Q"),
            "/section:.text,Q: unknown section attribute `Q` (DEKPRSW)"
        );
        assert_eq!(err("/out:x /entry"), "/entry: needs a value");
        assert!(err("/out:x /subsystem:windows").starts_with("/subsystem:windows: a UEFI"));
    }

    #[test]
    fn absolute_paths_are_inputs_not_options() {
        assert!(is_option("/NOLOGO") && is_option("-out:/a/b.efi") && is_option("/x:a.b"));
        assert!(!is_option("/tmp/a.o") && !is_option("/a.o") && !is_option("libx.a"));
    }
}
