//! Inputs the fuzzers (`linker/fuzz`) once crashed the linker with, each linked as its target
//! links it: every one must now be refused with an error naming the input, never a panic.
use std::path::{Path, PathBuf};

use peln_linker::{LinkArgs, Machine};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn seed(name: &str) -> Vec<u8> {
    let path = fuzz_dir().join("seeds").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The valid `main` objects a fuzz target of this machine links its input beside.
fn mains(machine: Machine) -> Vec<Vec<u8>> {
    let formats: &[&str] = match machine {
        Machine::Amd64 | Machine::Arm64 => &["coff", "elf"],
        Machine::Riscv64 | Machine::Loongarch64 => &["elf"],
    };
    formats
        .iter()
        .map(|f| seed(&format!("main-{}-{f}.o", machine.name())))
        .collect()
}

fn link(machine: Machine, main: &[u8], input: &[u8], gc_sections: bool) -> peln_linker::Result {
    // As the fuzz targets link: with a map, whose rendering reads every symbol, and with GC
    // identical code folding.
    let args = LinkArgs {
        gc_sections,
        icf: match gc_sections {
            true => peln_linker::icf::Level::All,
            false => peln_linker::icf::Level::None,
        },
        map: Some("out.map".into()),
        machine: Some(machine),
        ..LinkArgs::new("out.efi".into())
    };
    let files = [("main.o".to_string(), main), ("fuzz.o".to_string(), input)];
    peln_linker::link_buffers(&args, &files).map(|_| ())
}

#[test]
fn fuzzer_findings_are_errors_naming_the_input() {
    let dir = fuzz_dir().join("regressions");
    let mut checked = 0;
    for target in std::fs::read_dir(&dir).unwrap() {
        let target = target.unwrap().path();
        let name = target.file_name().unwrap().to_string_lossy().into_owned();
        let machines: Vec<Machine> = match name.as_str() {
            "archive" => vec![Machine::Amd64],
            "coff_object" | "elf_object" => Machine::ALL.to_vec(),
            link => vec![Machine::from_name(link.trim_start_matches("link_"))
                .unwrap_or_else(|| panic!("{}: no fuzz target of that name", target.display()))],
        };
        for case in std::fs::read_dir(&target).unwrap() {
            let case = case.unwrap().path();
            let input = std::fs::read(&case).unwrap();
            for &machine in &machines {
                for main in mains(machine) {
                    for gc in [false, true] {
                        match link(machine, &main, &input, gc) {
                            Err(e) => assert!(
                                e.to_string().contains("fuzz.o"),
                                "{}: the error does not name the input: {e}",
                                case.display()
                            ),
                            Ok(()) => panic!("{}: linked without an error", case.display()),
                        }
                    }
                }
            }
            checked += 1;
        }
    }
    eprintln!("{checked} fuzzer findings refused");
}

#[test]
fn archive_without_symbol_index_is_scanned() {
    let main = seed("main-amd64-coff.o");
    let archive = seed("helper-amd64-coff-noindex.a");
    let with_index = seed("helper-amd64-coff.a");
    let args = LinkArgs {
        machine: Some(Machine::Amd64),
        ..LinkArgs::new("out.efi".into())
    };
    let image = |lib: &[u8]| {
        let files = [
            ("main.obj".to_string(), &main[..]),
            ("lib.a".to_string(), lib),
        ];
        peln_linker::link_buffers(&args, &files).unwrap().image
    };
    assert_eq!(
        image(&archive),
        image(&with_index),
        "the scan finds the members the index points at"
    );
}

/// The section headers of an ELF64 object: (header offset, sh_type) each.
fn elf_section_headers(elf: &[u8]) -> Vec<(usize, u32)> {
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap());
    let shoff = u64::from_le_bytes(elf[0x28..0x30].try_into().unwrap()) as usize;
    let (entsize, count) = (usize::from(u16_at(0x3a)), usize::from(u16_at(0x3c)));
    (0..count)
        .map(|i| {
            let at = shoff + i * entsize;
            (
                at,
                u32::from_le_bytes(elf[at + 4..at + 8].try_into().unwrap()),
            )
        })
        .collect()
}

/// A real object with its first RELA table damaged by `damage(elf, header offset)`: the link is
/// refused with `expected` and the object's name.
fn refused_rela(damage: impl Fn(&mut Vec<u8>, usize), expected: &str) {
    const SHT_RELA: u32 = 4;
    let mut bad = seed("helper-riscv64-elf.o");
    let (at, _) = *elf_section_headers(&bad)
        .iter()
        .find(|(_, t)| *t == SHT_RELA)
        .expect("the seed has relocations");
    damage(&mut bad, at);
    let err = link(Machine::Riscv64, &seed("main-riscv64-elf.o"), &bad, false)
        .expect_err("a damaged relocation table links")
        .to_string();
    assert!(err.contains("fuzz.o") && err.contains(expected), "{err}");
}

#[test]
fn rel_tables_and_tables_outside_the_file_are_refused() {
    const SHT_REL: u32 = 9;
    refused_rela(
        |elf, at| elf[at + 4..at + 8].copy_from_slice(&SHT_REL.to_le_bytes()),
        "REL relocations (no addend) are not supported",
    );
    refused_rela(
        |elf, at| elf[at + 0x18..at + 0x20].copy_from_slice(&u64::MAX.to_le_bytes()),
        "table outside the file",
    );
    refused_rela(
        |elf, at| elf[at + 0x2c..at + 0x30].copy_from_slice(&9999u32.to_le_bytes()),
        "Invalid ELF sh_info",
    );
}

/// A GNU archive of `members` (name, bytes), its symbol index mapping each name to a member.
fn gnu_archive(members: &[(&str, &[u8])], index: &[(&str, usize)]) -> Vec<u8> {
    let header = |name: &str, size: usize| {
        format!("{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n", 0, 0, 0, 644)
    };
    let table = 4 + 4 * index.len() + index.iter().map(|(n, _)| n.len() + 1).sum::<usize>();
    let mut at = 8 + 60 + table + table % 2;
    let offsets: Vec<u32> = (members.iter())
        .map(|(_, data)| {
            let here = at as u32;
            at += 60 + data.len() + data.len() % 2;
            here
        })
        .collect();
    let mut out = b"!<arch>\n".to_vec();
    out.extend(header("/", table).as_bytes());
    out.extend((index.len() as u32).to_be_bytes());
    out.extend(index.iter().flat_map(|&(_, m)| offsets[m].to_be_bytes()));
    for (name, _) in index {
        out.extend(name.as_bytes());
        out.push(0);
    }
    out.resize(out.len() + table % 2, b'\n');
    for (name, data) in members {
        out.extend(header(&format!("{name}/"), data.len()).as_bytes());
        out.extend(*data);
        out.resize(out.len() + data.len() % 2, b'\n');
    }
    out
}

/// Members are parsed ahead of the walk that decides which load: one that an index entry points
/// at but that never loads (another member defined its name first) is never an error, whatever
/// was parsed ahead; the same member reached by the walk is.
#[test]
fn an_archive_member_never_loaded_is_no_error_even_if_it_is_malformed() {
    use object::{Object, ObjectSymbol};
    let main = seed("main-amd64-elf.o");
    let helper = seed("helper-amd64-elf.o");
    let mut bad = helper.clone();
    bad[18..20].copy_from_slice(&0x9999u16.to_le_bytes()); // e_machine
                                                           // `main` wants these; the walk takes the last one first (after the entry, which `main`
                                                           // defines), and `helper` defines them all.
    let wanted: Vec<String> = (object::File::parse(&main[..]).unwrap().symbols())
        .filter(|s| s.is_undefined() && s.is_global())
        .map(|s| s.name().unwrap().to_string())
        .collect();
    assert!(wanted.len() >= 2, "{wanted:?}");
    let link = |first: usize| {
        let index: Vec<(&str, usize)> = (wanted.iter().enumerate())
            .map(|(i, n)| (n.as_str(), if i + 1 == wanted.len() { first } else { 0 }))
            .collect();
        let lib = gnu_archive(&[("bad.o", &bad), ("helper.o", &helper)], &index);
        let args = LinkArgs {
            machine: Some(Machine::Amd64),
            ..LinkArgs::new("out.efi".into())
        };
        let files = [
            ("main.o".to_string(), &main[..]),
            ("lib.a".to_string(), &lib[..]),
        ];
        peln_linker::link_buffers(&args, &files).map(|_| ())
    };
    link(1).expect("helper.o defines every name first; bad.o never loads");
    let e = link(0).expect_err("bad.o loads first").to_string();
    assert!(e.contains("lib.a(bad.o)"), "{e}");
}
