//! `pectl link --machine riscv64` on bad input: each error names what to fix, exits 1 and leaves
//! no output. Fixtures come from fixtures/regen.sh.
mod common;
use common::{assert_fails, link_fixtures, Run};

fn link(fixture_name: &str) -> Run {
    link_fixtures("riscv64", &[fixture_name])
}

#[test]
fn medlow_absolute_hi20_asks_for_medany() {
    assert_fails(
        &link("rv-medlow.o"),
        &[
            "rv-medlow.o:(.text+0x0): R_RISCV_HI20 against `counter` stores an absolute address in a form UEFI firmware cannot relocate",
            "recompile with -mcmodel=medany",
            "rv-medlow.o:(.text+0x4): R_RISCV_LO12_I against `counter`",
        ],
    );
}

#[test]
fn pcrel_lo12_without_its_hi20_is_named() {
    assert_fails(
        &link("rv-lo12-orphan.o"),
        &["rv-lo12-orphan.o:(.text+0x2): R_RISCV_PCREL_LO12_I: no PCREL_HI20/GOT_HI20 relocation \
           at `.Lnot_auipc` (.text+0x0) to pair with"],
    );
}

#[test]
fn overflowing_branch_names_symbol_offset_and_value() {
    assert_fails(
        &link("rv-far-branch.o"),
        &["rv-far-branch.o:(.text+0x0): relocation R_RISCV_BRANCH out of range: 8198 (0x2006) is \
           not in [-2^12, 2^12); references `far_away`"],
    );
}

#[test]
fn unknown_type_is_named() {
    assert_fails(
        &link("rv-unknown.o"),
        &["rv-unknown.o:(.text+0x0): unknown relocation type 58 (0x3a)"],
    );
}

#[test]
fn amd64_object_is_the_wrong_machine() {
    assert_fails(
        &link("hello-elf.o"),
        &["hello-elf.o: machine amd64 (0x3e) does not match --machine riscv64"],
    );
}
