//! Shared by the CLI test files: fixtures, running `pectl link`, asserting a clean failure.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Links the fixture `object` for `machine` into `dir/name` in-process; panics when it fails.
pub fn link_fixture(dir: &Path, name: &str, machine: &str, object: &str) -> PathBuf {
    let out = dir.join(name);
    pectl::run([
        "pectl",
        "link",
        "--machine",
        machine,
        "-o",
        out.to_str().unwrap(),
        fixture(object).to_str().unwrap(),
    ])
    .unwrap();
    out
}

/// `pectl inspect PATH`'s output; panics with its stderr when it fails.
pub fn inspect(path: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pectl"))
        .arg("inspect")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub struct Run {
    pub code: Option<i32>,
    pub stderr: String,
    pub output: PathBuf,
    _dir: tempfile::TempDir,
}

/// Runs `pectl link --machine MACHINE -o OUT ARGS…` in a fresh directory.
pub fn link_for(machine: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.efi");
    let out = Command::new(env!("CARGO_BIN_EXE_pectl"))
        .args(["link", "--machine", machine, "-o"])
        .arg(&output)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        output,
        _dir: dir,
    }
}

/// [`link_for`] with committed fixtures (by name) as the only arguments.
pub fn link_fixtures(machine: &str, fixtures: &[&str]) -> Run {
    let paths: Vec<PathBuf> = fixtures.iter().map(|f| fixture(f)).collect();
    let args: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    link_for(machine, &args)
}

/// Exit status 1, every expected text in stderr, no panic, no output and no temp file left.
pub fn assert_fails(run: &Run, expected: &[&str]) {
    assert_eq!(run.code, Some(1), "stderr: {}", run.stderr);
    for e in expected {
        assert!(run.stderr.contains(e), "missing {e:?} in:\n{}", run.stderr);
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(!run.output.exists(), "a failed link must leave no output");
    let leftovers: Vec<_> = std::fs::read_dir(run.output.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        leftovers.is_empty(),
        "temp files left behind: {leftovers:?}"
    );
}
