//! The stub's host unit tests (PE section lookup, command-line conversion, LoadFile2 semantics):
//! `stub/` is not a workspace member (it is built for UEFI targets), so `cargo test --workspace`
//! reaches them through this test.
use std::path::Path;
use std::process::Command;

use peln_tests::cc::run_checked;
use peln_tests::env::repo_root;

#[test]
fn stub_host_unit_tests_pass() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("peln-stub-host");
    let out = run_checked(
        Command::new(cargo)
            .current_dir(repo_root().join("stub"))
            .args(["test", "--locked", "--target-dir"])
            .arg(&target),
        "cargo test in stub/",
    );
    println!("{out}");
    let ran: usize = out
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(ran >= 6, "expected the stub's 6 unit tests to run:\n{out}");
}
