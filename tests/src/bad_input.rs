//! Bad input, end to end: one table of cases run against every tool's binary (`pectl link`,
//! `uki`, `inspect`, `verify`, `cloud-boot-iso`). Each case breaks one thing about a run that
//! succeeds with the tool's good inputs, and every case must end the same way: a non-zero exit
//! (not a panic's 101), a message naming the file at fault, and no partial output — the output
//! directory holds exactly what it held before (an existing output stays byte-identical).
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::WorkDir;

/// How to run one tool on a set of input files.
pub struct Tool<'a> {
    pub name: &'a str,
    pub bin: &'a Path,
    /// Good inputs (file name, bytes): the run succeeds with these. Cases break the first one.
    pub inputs: Vec<(&'a str, Vec<u8>)>,
    /// A stand-in for the first input that is for the wrong machine; `None` where the tool
    /// accepts any machine (inspect).
    pub wrong_machine: Option<Vec<u8>>,
    /// The command line for these input paths and this output path.
    pub args: &'a dyn Fn(&[PathBuf], &Path) -> Vec<OsString>,
    /// Whether the tool writes the output path (inspect and verify only read).
    pub writes_output: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    MissingFile,
    DirectoryAsInput,
    EmptyFile,
    TruncatedAndRandom,
    WrongMachine,
    OutputIsInput,
    UnwritableOutputDir,
    FullDisk,
    ExistingOutputKept,
}

impl Case {
    pub const ALL: [Case; 9] = [
        Case::MissingFile,
        Case::DirectoryAsInput,
        Case::EmptyFile,
        Case::TruncatedAndRandom,
        Case::WrongMachine,
        Case::OutputIsInput,
        Case::UnwritableOutputDir,
        Case::FullDisk,
        Case::ExistingOutputKept,
    ];
}

/// The bytes that stand for garbage in [`Case::TruncatedAndRandom`].
const RANDOM_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let data = if e.path().is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                b"<dir>".to_vec()
            };
            (e.file_name().to_string_lossy().into_owned(), data)
        })
        .collect();
    v.sort();
    v
}

/// What a case produced, for the assertions and for the failure message.
struct Outcome {
    code: Option<i32>,
    stderr: String,
}

/// Runs `case` against `tool`; `Err` says what went wrong. `None`: the case does not apply.
fn run_case(tool: &Tool, case: Case) -> Option<Result<(), String>> {
    if !tool.writes_output
        && matches!(
            case,
            Case::OutputIsInput
                | Case::UnwritableOutputDir
                | Case::FullDisk
                | Case::ExistingOutputKept
        )
    {
        return None;
    }
    if case == Case::WrongMachine && tool.wrong_machine.is_none() {
        return None;
    }
    let (
        _work,
        Staged {
            ins,
            outs,
            mut paths,
            mut output,
        },
    ) = stage(tool, &format!("{case:?}"));
    let first = paths[0].clone();
    // The file the message must name.
    let mut culprit = first.clone();
    let mut limit_file_size = false;
    match case {
        Case::MissingFile => std::fs::remove_file(&first).unwrap(),
        Case::DirectoryAsInput => {
            std::fs::remove_file(&first).unwrap();
            std::fs::create_dir(&first).unwrap();
        }
        Case::EmptyFile => std::fs::write(&first, b"").unwrap(),
        Case::TruncatedAndRandom => {
            let good = &tool.inputs[0].1;
            let mut d = good[..good.len() / 2].to_vec();
            d.extend(crate::pseudo_random_bytes(good.len() / 2, RANDOM_SEED));
            std::fs::write(&first, d).unwrap();
        }
        Case::WrongMachine => {
            std::fs::write(&first, tool.wrong_machine.as_ref().unwrap()).unwrap();
        }
        Case::OutputIsInput => {
            output = first.clone();
            // The output: the same file under another spelling.
            paths[0] = ins.join(".").join(tool.inputs[0].0);
        }
        Case::UnwritableOutputDir => {
            // Root writes into a mode-0555 directory anyway: a regular file where the directory
            // should be is unwritable for everyone.
            let not_a_dir = outs.join("not-a-dir");
            std::fs::write(&not_a_dir, b"").unwrap();
            output = not_a_dir.join("out.efi");
            culprit = not_a_dir;
        }
        Case::FullDisk => {
            limit_file_size = true;
            culprit = output.clone();
        }
        Case::ExistingOutputKept => {
            std::fs::write(&output, b"the previous good output").unwrap();
            std::fs::write(&first, crate::pseudo_random_bytes(4096, RANDOM_SEED)).unwrap();
        }
    }
    Some(judge(
        tool,
        &Staged {
            ins,
            outs,
            paths,
            output,
        },
        &culprit,
        limit_file_size,
        &[],
    ))
}

/// A tool's inputs written to `<work>/in`, and its output path in `<work>/out`.
struct Staged {
    ins: PathBuf,
    outs: PathBuf,
    paths: Vec<PathBuf>,
    output: PathBuf,
}

fn stage(tool: &Tool, case: &str) -> (WorkDir, Staged) {
    let work = WorkDir::new(&format!("bad-input-{}-{case}", tool.name));
    let ins = work.join("in");
    let outs = work.join("out");
    std::fs::create_dir_all(&ins).unwrap();
    std::fs::create_dir_all(&outs).unwrap();
    let paths: Vec<PathBuf> = tool.inputs.iter().map(|(n, _)| ins.join(n)).collect();
    for ((_, data), p) in tool.inputs.iter().zip(&paths) {
        std::fs::write(p, data).unwrap();
    }
    let output = outs.join("out.efi");
    (
        work,
        Staged {
            ins,
            outs,
            paths,
            output,
        },
    )
}

/// Runs `tool` on the staged (and broken) inputs, with `env` set (`None`: removed), and checks
/// the run ended as every bad input must: a non-zero exit that is no panic, a message naming
/// `culprit`, and the inputs and output directory as they were.
fn judge(
    tool: &Tool,
    staged: &Staged,
    culprit: &Path,
    limit_file_size: bool,
    env: &[(&str, Option<&str>)],
) -> Result<(), String> {
    let Staged {
        ins,
        outs,
        paths,
        output,
    } = staged;
    let inputs_before = listing(ins);
    let outs_before = listing(outs);
    let mut cmd = Command::new(tool.bin);
    cmd.args((tool.args)(paths, output))
        .env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    if limit_file_size {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // A full disk: any write past 512 bytes fails with EFBIG (SIGXFSZ ignored, or it
                // would kill the tool before it can clean up).
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let lim = libc::rlimit {
                    rlim_cur: 512,
                    rlim_max: 512,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = cmd.output().expect("run the tool");
    let o = Outcome {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout),
    };
    let fail = |why: &str| {
        Err(format!(
            "{why}\n  exit {:?}\n  output: {}",
            o.code,
            o.stderr.trim()
        ))
    };
    if o.code == Some(0) {
        return fail("succeeded");
    }
    if o.code == Some(101) || o.stderr.contains("panicked") {
        return fail("panicked");
    }
    if o.code.is_none() {
        return fail("killed by a signal");
    }
    let name = culprit.file_name().unwrap().to_string_lossy();
    if !o.stderr.contains(&*name) {
        return fail(&format!("the message does not name {name}"));
    }
    if listing(ins) != inputs_before {
        return fail("the inputs changed");
    }
    if listing(outs) != outs_before {
        return fail(&format!(
            "the output directory changed: {:?}",
            listing(outs).iter().map(|(n, _)| n).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

/// Runs every case against `tool` and fails listing each case that went wrong, except those in
/// `known_failures` (cases that fail today for a reason outside this table, named in the
/// caller), which must still fail: when one starts passing, take it off the list.
pub fn run_table(tool: &Tool, known_failures: &[Case]) {
    let mut failures = Vec::new();
    for case in Case::ALL {
        match run_case(tool, case) {
            None => {}
            Some(Ok(())) if known_failures.contains(&case) => failures.push(format!(
                "{case:?}: passes now; take it off the known failures"
            )),
            Some(Ok(())) => {}
            Some(Err(_)) if known_failures.contains(&case) => {}
            Some(Err(why)) => failures.push(format!("{case:?}: {why}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{}: bad input not handled:\n{}",
        tool.name,
        failures.join("\n")
    );
}

/// The cases of a tool that signs (issue 19): each breaks the image to sign or the key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignCase {
    /// The image to sign (the tool's first input) is not a PE image.
    NotPe,
    /// The certificate is another key's.
    KeyCertMismatch,
    /// The key is encrypted and no password is given.
    EncryptedKeyWithoutPassword,
    WrongPassword,
    /// The image to sign is signed already (and no `--append`).
    AlreadySigned,
    /// The key file cannot be read (a directory stands in its place).
    UnreadableKey,
}

impl SignCase {
    pub const ALL: [SignCase; 6] = [
        SignCase::NotPe,
        SignCase::KeyCertMismatch,
        SignCase::EncryptedKeyWithoutPassword,
        SignCase::WrongPassword,
        SignCase::AlreadySigned,
        SignCase::UnreadableKey,
    ];
}

/// The key material of a signing tool's run. `key` and `cert` name two of the tool's inputs: an
/// encrypted private key whose password the table passes in `PELN_KEY_PASSWORD` (so the tool's
/// command line needs no password option), and its certificate.
pub struct SignKeys<'a> {
    pub key: &'a str,
    pub cert: &'a str,
    pub password: &'a str,
    /// The certificate of another key.
    pub other_cert: Vec<u8>,
    /// The first input, signed.
    pub signed_image: Vec<u8>,
}

/// Runs `cases` of [`SignCase`] against `tool`, each ending as every bad input must (see
/// [`run_table`]), the message naming the file at fault.
pub fn run_sign_table(tool: &Tool, keys: &SignKeys, cases: &[SignCase]) {
    let mut failures = Vec::new();
    for &case in cases {
        let (_work, staged) = stage(tool, &format!("{case:?}"));
        let input = |name: &str| {
            let i = tool.inputs.iter().position(|(n, _)| *n == name);
            staged.paths[i.unwrap_or_else(|| panic!("{name} is not an input of {}", tool.name))]
                .clone()
        };
        let (key, cert, image) = (input(keys.key), input(keys.cert), staged.paths[0].clone());
        let mut password = Some(keys.password);
        let culprit = match case {
            SignCase::NotPe => {
                std::fs::write(&image, b"#!/bin/sh\necho not a PE image\n").unwrap();
                image
            }
            SignCase::KeyCertMismatch => {
                std::fs::write(&cert, &keys.other_cert).unwrap();
                cert
            }
            SignCase::EncryptedKeyWithoutPassword => {
                password = None;
                key
            }
            SignCase::WrongPassword => {
                password = Some("not the password");
                key
            }
            SignCase::AlreadySigned => {
                std::fs::write(&image, &keys.signed_image).unwrap();
                image
            }
            SignCase::UnreadableKey => {
                std::fs::remove_file(&key).unwrap();
                std::fs::create_dir(&key).unwrap();
                key
            }
        };
        if let Err(why) = judge(
            tool,
            &staged,
            &culprit,
            false,
            &[("PELN_KEY_PASSWORD", password)],
        ) {
            failures.push(format!("{case:?}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{}: bad signing input not handled:\n{}",
        tool.name,
        failures.join("\n")
    );
}
