//! `pectl link --machine loongarch64` on bad input: each error names what to fix, exits 1 and
//! leaves no output. Fixtures come from fixtures/regen.sh.
mod common;
use common::{assert_fails, link_fixtures, Run};

fn link(fixture_name: &str) -> Run {
    link_fixtures("loongarch64", &[fixture_name])
}

#[test]
fn overflowing_b16_b21_b26_are_each_reported() {
    // The assembler folded `far_away` (0x1000) into the addend; P is 0x140001000 + offset.
    assert_fails(
        &link("la-far-branch.o"),
        &[
            "la-far-branch.o:(.text+0x0): relocation R_LARCH_B16 out of range: -5368709120 \
             (0xfffffffec0000000) is not in [-2^17, 2^17)",
            "la-far-branch.o:(.text+0x4): relocation R_LARCH_B21 out of range: -5368709124 \
             (0xfffffffebffffffc) is not in [-2^22, 2^22)",
            "la-far-branch.o:(.text+0x8): relocation R_LARCH_B26 out of range: -5368709128 \
             (0xfffffffebffffff8) is not in [-2^27, 2^27)",
        ],
    );
}

#[test]
fn align_that_cannot_be_satisfied_is_an_error() {
    assert_fails(
        &link("la-bad-align.o"),
        &[
            "la-bad-align.o:(.text+0x4): R_LARCH_ALIGN: 60 bytes of padding for 64-byte alignment \
           cannot be satisfied in a section of 68 bytes aligned to 4",
        ],
    );
}

#[test]
fn unknown_type_is_named() {
    assert_fails(
        &link("la-unknown.o"),
        &["la-unknown.o:(.text+0x0): unknown relocation type 83 (0x53)"],
    );
}

#[test]
fn amd64_object_is_the_wrong_machine() {
    assert_fails(
        &link("hello-elf.o"),
        &["hello-elf.o: machine amd64 (0x3e) does not match --machine loongarch64"],
    );
}
