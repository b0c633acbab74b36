//! `pectl inspect` output, pinned with insta snapshots for each input kind, and a linked image
//! whose headers, sections and base relocations are therefore pinned too.
use std::process::Command;

mod common;
use common::{fixture, inspect, link_fixture};

#[test]
fn inspect_coff_object() {
    insta::assert_snapshot!(inspect(&fixture("hello-coff.obj")));
}

#[test]
fn inspect_elf_object() {
    insta::assert_snapshot!(inspect(&fixture("hello-elf.o")));
}

#[test]
fn inspect_archive() {
    insta::assert_snapshot!(inspect(&fixture("hello.a")));
}

#[test]
fn inspect_linked_image() {
    let dir = tempfile::tempdir().unwrap();
    let out = link_fixture(dir.path(), "hello.efi", "x64", "hello-coff.obj");
    insta::assert_snapshot!(inspect(&out));
}

#[test]
fn inspect_rejects_non_objects() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    std::fs::write(&f, "just text").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pectl"))
        .arg("inspect")
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a PE image, object or archive"));
}

fn link_map(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gc.efi");
    let map = dir.path().join("gc.map");
    let mut args = vec![
        "pectl".to_string(),
        "link".into(),
        "--machine".into(),
        "amd64".into(),
        "-o".into(),
        out.display().to_string(),
        "--map".into(),
        map.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(fixture("gc.o").display().to_string());
    pectl::run(args).unwrap();
    // The map names inputs by path: keep only the file name so the snapshot is portable.
    std::fs::read_to_string(&map).unwrap().replace(
        &format!(
            "{}/",
            fixture("").display().to_string().trim_end_matches('/')
        ),
        "",
    )
}

#[test]
fn map_lists_sections_inputs_and_symbols() {
    let map = link_map(&[]);
    assert!(map.contains("gc.o:(.text.unused)"), "{map}");
    insta::assert_snapshot!(map);
}

#[test]
fn gc_sections_drops_what_the_entry_does_not_reach() {
    let map = link_map(&["--gc-sections"]);
    for kept in [
        "gc.o:(.text.used)",
        "gc.o:(.text.efi_main)",
        "gc.o:(.data.used_data)",
    ] {
        assert!(map.contains(kept), "{kept} missing:\n{map}");
    }
    for dropped in ["unused", "unused_data"] {
        assert!(!map.contains(dropped), "{dropped} kept:\n{map}");
    }
    insta::assert_snapshot!(map);
}
