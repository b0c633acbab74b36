//! `pectl link --machine arm64` on committed fixtures (fixtures/regen-arm64.sh): bad input gets an
//! error naming what to fix, exit status 1 and no output; a call beyond `bl`'s reach links through
//! a thunk instead of failing.
mod common;
use common::{assert_fails, fixture, link_fixtures, link_for, Run};

fn link(fixtures: &[&str]) -> Run {
    link_fixtures("arm64", fixtures)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The instruction words at the start of the image's first section (`.text`).
fn text_words(image: &[u8], count: usize) -> Vec<u32> {
    let pe = u32_at(image, 0x3c) as usize;
    let first_section = pe + 24 + usize::from(u16_at(image, pe + 20));
    let raw = u32_at(image, first_section + 20) as usize;
    (0..count).map(|i| u32_at(image, raw + 4 * i)).collect()
}

#[test]
fn arm64_coff_object_links_into_an_arm64_image() {
    let run = link(&["hello-arm64.obj"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let image = std::fs::read(&run.output).unwrap();
    let pe = u32_at(&image, 0x3c) as usize;
    assert_eq!(&image[pe..pe + 4], b"PE\0\0");
    assert_eq!(u16_at(&image, pe + 4), 0xaa64);
}

#[test]
fn amd64_objects_are_the_wrong_machine() {
    assert_fails(
        &link(&["hello-elf.o"]),
        &["hello-elf.o: machine amd64 (0x3e) does not match --machine arm64"],
    );
    assert_fails(
        &link(&["hello-coff.obj"]),
        &["hello-coff.obj: machine amd64 (0x8664) does not match --machine arm64"],
    );
}

#[test]
fn adrp_to_a_page_beyond_4_gib_names_symbol_offset_and_value() {
    assert_fails(
        &link(&["a64-far-adrp.o", "a64-abs.o"]),
        &[
            "a64-far-adrp.o:(.text+0x0): relocation R_AARCH64_ADR_PREL_PG_HI21 out of range: \
           139632608014336 (0x7efebffff000) is not in [-2^32, 2^32); references `far_away`",
        ],
    );
}

#[test]
fn misaligned_scaled_load_offset_is_an_error_in_elf_and_coff() {
    assert_fails(
        &link(&["a64-misaligned.o"]),
        &[
            "a64-misaligned.o:(.text+0x4): relocation R_AARCH64_LDST64_ABS_LO12_NC misaligned: \
           target 0x140002004 is not a multiple of 8 (the instruction encodes it in 8-byte \
           units); references `table`",
        ],
    );
    assert_fails(
        &link(&["a64-misaligned.obj"]),
        &[
            "a64-misaligned.obj:(.text+0x4): relocation IMAGE_REL_ARM64_PAGEOFFSET_12L \
           misaligned: target 0x140002004 is not a multiple of 8 (the instruction encodes it in \
           8-byte units); references `table`",
        ],
    );
}

/// ELF keeps a common symbol's alignment in st_value (`object` reports it as address 0): `table`
/// is placed on its 64 after the 1-byte `pad`, so the scaled load reaches it, and an alignment
/// that is not a power of two is refused by name.
#[test]
fn elf_common_symbols_keep_their_alignment() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("common.map");
    let fixture_path = fixture("a64-common.o");
    let run = link_for(
        "arm64",
        &[
            fixture_path.to_str().unwrap(),
            "--map",
            map.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let map = std::fs::read_to_string(&map).unwrap();
    let table = map
        .lines()
        .skip_while(|l| !l.ends_with(" pad"))
        .nth(1)
        .unwrap();
    let fields: Vec<&str> = table.split_whitespace().collect();
    assert_eq!(fields[1..], ["320", "64", "COMMON"], "{map}");
    let address = u64::from_str_radix(fields[0], 16).unwrap();
    assert_eq!(address % 64, 0, "{map}");

    // `table`'s symbol entry: st_shndx SHN_COMMON, st_value 64, st_size 800.
    let mut object = std::fs::read(&fixture_path).unwrap();
    let entry = [
        &0xfff2u16.to_le_bytes()[..],
        &64u64.to_le_bytes(),
        &800u64.to_le_bytes(),
    ]
    .concat();
    let at = object
        .windows(entry.len())
        .position(|w| w == entry)
        .unwrap()
        + 2;
    object[at..at + 8].copy_from_slice(&48u64.to_le_bytes());
    let bad = dir.path().join("bad-common.o");
    std::fs::write(&bad, object).unwrap();
    assert_fails(
        &link_for("arm64", &[bad.to_str().unwrap()]),
        &["bad-common.o: cannot read input: common symbol table has alignment 48: not a power of \
           two up to 2^31"],
    );
}

#[test]
fn movz_movk_address_of_a_movable_symbol_asks_for_the_small_code_model() {
    assert_fails(
        &link(&["a64-movw.o"]),
        &[
            "a64-movw.o:(.text+0x0): R_AARCH64_MOVW_UABS_G3 against `table`",
            "a64-movw.o:(.text+0xc): R_AARCH64_MOVW_UABS_G0_NC against `table`",
            "use the default small code model",
        ],
    );
}

/// `bl far_func` across 130 MiB: the call goes to a thunk right after the caller's section.
#[test]
fn call_beyond_128_mib_goes_through_a_thunk() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("far.map");
    let run = link_for(
        "arm64",
        &[
            "--map",
            map.to_str().unwrap(),
            fixture("a64-far-call.o").to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let map = std::fs::read_to_string(&map).unwrap();
    assert!(
        map.contains("     c     4     <1 thunks after "),
        "no thunk in the map:\n{map}"
    );
    let image = std::fs::read(&run.output).unwrap();
    let words = text_words(&image, 5);
    // bl thunk (2 words on); ret; adrp x16, far_func; add x16, x16, :lo12:far_func; br x16
    assert_eq!(
        words[0], 0x9400_0002,
        "bl goes to the thunk: {words:#010x?}"
    );
    assert_eq!(
        words[2] & 0x9f00_001f,
        0x9000_0010,
        "adrp x16: {words:#010x?}"
    );
    assert_eq!(
        words[3] & 0xffc0_03ff,
        0x9100_0210,
        "add x16, x16: {words:#010x?}"
    );
    assert_eq!(words[4], 0xd61f_0200, "br x16: {words:#010x?}");
}
