//! GNU ld style: what rustc sends for `riscv64gc-unknown-none-elf` and `loongarch64-unknown-none`
//! (`-flavor gnu`), and what clang's bare-metal driver sends to `-fuse-ld=`. Options ELF linkers
//! need for shared objects and program headers change nothing in a PE image and are accepted.
use std::path::PathBuf;

use peln_linker::{icf, LinkArgs, Machine, Subsystem};

use super::{parse_number, Error};

/// Flags without a value that change nothing in a PE image.
const NO_OPS: &[&str] = &[
    "-Bstatic",
    "-Bdynamic",
    "-static",
    "-dn",
    "-dy",
    "-non_shared",
    "--as-needed",
    "--no-as-needed",
    "--start-group",
    "--end-group",
    "-(",
    "-)",
    "--eh-frame-hdr",
    "-X",
    "--discard-locals",
    "-x",
    "--discard-all",
    "-EL",
    "-nostdlib",
    "--nxcompat",
    "-pie",
    "--pie",
    "-no-pie",
    "--no-pie",
    "--no-undefined",
    "--fatal-warnings",
    "--no-dynamic-linker",
    "--build-id",
];

/// `-m` emulations that name a machine we link for.
fn emulation(name: &str) -> Option<Machine> {
    Some(match name {
        "elf_x86_64" | "i386pep" => Machine::Amd64,
        "aarch64elf" | "aarch64linux" | "arm64pe" | "aarch64pe" => Machine::Arm64,
        "elf64lriscv" => Machine::Riscv64,
        "elf64loongarch" => Machine::Loongarch64,
        _ => return None,
    })
}

pub fn parse(args: &[String]) -> Result<LinkArgs, Error> {
    let mut out = LinkArgs::new(PathBuf::new());
    let mut output = None;
    let mut whole = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |short: &str, long: &str| -> Result<Option<String>, Error> {
            value_of(arg, short, long, &mut it)
        };
        if let Some(v) = value("-o", "--output")? {
            output = Some(PathBuf::from(v));
        } else if let Some(v) = value("-e", "--entry")? {
            out.entry = v;
        } else if let Some(v) = value("-L", "--library-path")? {
            out.lib_dirs.push(v.into());
        } else if let Some(v) = value("-l", "--library")? {
            out.libs.push(v);
        } else if let Some(v) = value("-u", "--undefined")? {
            out.undefined.push(v);
        } else if value("-z", "")?.is_some() {
            // `-z noexecstack`, `-z relro`, …: ELF program-header policy, nothing in a PE image.
        } else if let Some(v) = value("-m", "")? {
            out.machine = Some(emulation(&v).ok_or_else(|| format!("-m {v}: unknown emulation"))?);
        } else if let Some(v) = value("", "-Map")?.or(value("", "--Map")?) {
            out.map = Some(v.into());
        } else if let Some(v) = value("", "--image-base")? {
            out.image_base = Some(parse_number(&v).map_err(|e| format!("--image-base: {e}"))?);
        } else if let Some(v) = value("", "--icf")? {
            out.icf = icf::Level::from_name(&v)
                .ok_or_else(|| format!("--icf={v}: expected all, safe or none"))?;
        } else if let Some(v) = value("", "--subsystem")? {
            out.subsystem = subsystem(&v)?;
        } else if let Some(v) = value("-T", "--script")? {
            return Err(format!(
                "linker script {v} (-T): pectl lays out PE images itself and takes no linker \
                 scripts"
            )
            .into());
        } else if let Some(level) = arg.strip_prefix("-O") {
            if level.parse::<u8>().is_err() {
                return Err(format!("unknown GNU ld option `{arg}`").into());
            }
        } else {
            match arg.as_str() {
                "--whole-archive" => whole = true,
                "--no-whole-archive" => whole = false,
                "--gc-sections" => out.gc_sections = true,
                "--no-gc-sections" => out.gc_sections = false,
                "--strip-debug" | "-S" | "--strip-all" | "-s" => out.strip_debug = true,
                "--no-relax" => out.relax = false,
                "--relax" => out.relax = true,
                "-shared" | "--shared" | "-Bshareable" => {
                    return Err(format!(
                        "{arg}: pectl writes PE images (UEFI applications and drivers), not \
                         shared objects"
                    )
                    .into())
                }
                a if NO_OPS.contains(&a) => {}
                a if a.starts_with('-') && a.len() > 1 => {
                    return Err(format!("unknown GNU ld option `{a}`").into())
                }
                input if whole => out.whole_archives.push(input.into()),
                input => out.inputs.push(input.into()),
            }
        }
    }
    out.output = output.ok_or("no output file: pass -o file")?;
    Ok(out)
}

/// The value of `short`/`long` in any of GNU ld's spellings: `-oX`, `-o X`, `--output=X`,
/// `--output X`; `None` when `arg` is another option.
fn value_of<'a>(
    arg: &str,
    short: &str,
    long: &str,
    rest: &mut impl Iterator<Item = &'a String>,
) -> Result<Option<String>, Error> {
    let mut next = || {
        rest.next()
            .cloned()
            .map(Some)
            .ok_or_else(|| Error::from(format!("{arg}: needs a value")))
    };
    if !long.is_empty() {
        if arg == long {
            return next();
        }
        if let Some(v) = arg.strip_prefix(long).and_then(|v| v.strip_prefix('=')) {
            return Ok(Some(v.to_string()));
        }
    }
    if !short.is_empty() {
        if arg == short {
            return next();
        }
        // A glued value for one-letter options only (`-lfoo`), never for a long option that
        // happens to begin with the same letter (`-e` vs `--eh-frame-hdr`, `-m` vs `-Map`).
        if let Some(v) = arg.strip_prefix(short) {
            let long_option = arg.starts_with("--") || (short == "-m" && arg.starts_with("-Map"));
            if !long_option {
                return Ok(Some(v.to_string()));
            }
        }
    }
    Ok(None)
}

/// GNU ld's `--subsystem` names and numbers, optionally with `:major.minor` (ignored: the
/// firmware reads only the subsystem).
fn subsystem(value: &str) -> Result<Subsystem, Error> {
    let name = value.split_once(':').map_or(value, |(n, _)| n);
    match name {
        "10" => Some(Subsystem::EfiApplication),
        "11" => Some(Subsystem::EfiBootServiceDriver),
        "12" => Some(Subsystem::EfiRuntimeDriver),
        "efi_app" => Some(Subsystem::EfiApplication),
        n => Subsystem::from_name(n),
    }
    .ok_or_else(|| {
        format!(
            "--subsystem {value}: expected efi_application, efi_boot_service_driver or \
             efi_runtime_driver (10, 11, 12)"
        )
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<LinkArgs, Error> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    #[test]
    fn rustc_riscv64_release_command_line() {
        let a = parse_str(
            "/tmp/r/symbols.o /t/app.app.0.rcgu.o --as-needed -Bstatic /s/libcore-1.rlib \
             /s/libcompiler_builtins-2.rlib -L /tmp/r/raw-dylibs -Bdynamic -z noexecstack \
             -o /t/deps/app-3 --gc-sections -O1 --strip-debug --eh-frame-hdr",
        )
        .unwrap();
        assert_eq!(a.machine, None);
        assert_eq!(a.entry, "efi_main", "no entry option means efi_main");
        assert_eq!(a.output, PathBuf::from("/t/deps/app-3"));
        assert_eq!(a.inputs.len(), 4);
        assert_eq!(a.lib_dirs, [PathBuf::from("/tmp/r/raw-dylibs")]);
        assert!(a.gc_sections && a.strip_debug);
    }

    #[test]
    fn every_spelling_of_values() {
        let a = parse_str(
            "-ofirst --output=x.efi -e start -Lone -L two --library-path=three -lc -l m \
             --entry=main2 -Map=m.txt --image-base 0x10000000 --subsystem=11 -u keep1 \
             --undefined=keep2 -m elf64lriscv -zrelro --whole-archive w.a --no-whole-archive \
             a.o -nostdlib -X -EL --nxcompat --no-relax",
        )
        .unwrap();
        assert_eq!(a.output, PathBuf::from("x.efi"));
        assert_eq!(a.entry, "main2");
        assert_eq!(a.lib_dirs, ["one", "two", "three"].map(PathBuf::from));
        assert_eq!(a.libs, ["c", "m"]);
        assert_eq!(a.map, Some(PathBuf::from("m.txt")));
        assert_eq!(a.image_base, Some(0x1000_0000));
        assert_eq!(a.subsystem, Subsystem::EfiBootServiceDriver);
        assert_eq!(a.undefined, ["keep1", "keep2"]);
        assert_eq!(a.machine, Some(Machine::Riscv64));
        assert_eq!(a.whole_archives, [PathBuf::from("w.a")]);
        assert_eq!(a.inputs, [PathBuf::from("a.o")]);
        assert!(!a.relax);
    }

    #[test]
    fn icf_is_off_unless_asked_for() {
        let icf = |line: &str| parse_str(line).map(|a| a.icf);
        assert_eq!(icf("-o x a.o").unwrap(), icf::Level::None);
        assert_eq!(icf("-o x --icf=all a.o").unwrap(), icf::Level::All);
        assert_eq!(icf("-o x --icf safe a.o").unwrap(), icf::Level::Safe);
        assert_eq!(
            icf("-o x --icf=all --icf=none a.o").unwrap(),
            icf::Level::None
        );
        assert_eq!(
            icf("-o x --icf=some a.o").unwrap_err().to_string(),
            "--icf=some: expected all, safe or none"
        );
    }

    #[test]
    fn scripts_shared_and_unknown_options_are_clear_errors() {
        let err = |line: &str| parse_str(line).unwrap_err().to_string();
        assert_eq!(
            err("-o x -T link.ld a.o"),
            "linker script link.ld (-T): pectl lays out PE images itself and takes no linker scripts"
        );
        assert!(err("-o x -shared a.o").starts_with("-shared: pectl writes PE images"));
        assert_eq!(
            err("-o x --frobnicate a.o"),
            "unknown GNU ld option `--frobnicate`"
        );
        assert_eq!(err("-o x -Ofast"), "unknown GNU ld option `-Ofast`");
        assert_eq!(err("a.o"), "no output file: pass -o file");
        assert_eq!(err("-o"), "-o: needs a value");
        assert_eq!(err("-o x -m elf_i386"), "-m elf_i386: unknown emulation");
        assert!(err("-o x --subsystem windows").starts_with("--subsystem windows: expected"));
    }
}
