//! Replays every input in pectl/fuzz/regressions/<target>/ (minimised crashes the fuzzers found,
//! plus hand-made edge cases) through the same functions the fuzz targets call, under plain
//! `cargo test`: a fixed bug stays fixed without nightly or cargo-fuzz. The committed seed corpora
//! run too, so a target that panics on its own seeds fails here first.
#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["regressions", "corpus"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            eprintln!("{target}: {}", path.display());
            run(&data);
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for {target}");
}

#[test]
fn pe_reader() {
    replay("pe_reader", targets::pe_reader);
}

#[test]
fn uki() {
    replay("uki", targets::uki);
}

#[test]
fn iso_input() {
    replay("iso_input", targets::iso_input);
}

#[test]
fn flavors() {
    replay("flavors", targets::flavors);
}

#[test]
fn authenticode() {
    replay("authenticode", targets::authenticode);
}
