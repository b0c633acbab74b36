//! C compilation (clang-19) and archives (llvm-ar-19) for freestanding UEFI code.
use crate::env::{need_tool, CLANG, LLVM_AR};
use crate::Arch;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Object file format of compiled test code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjFormat {
    /// PE/COFF objects (`*-pc-windows-msvc`), amd64 and arm64 only.
    Coff,
    /// ELF relocatable objects (`*-unknown-elf`).
    Elf,
}

impl ObjFormat {
    /// Conventional object extension.
    pub fn obj_ext(self) -> &'static str {
        match self {
            ObjFormat::Coff => "obj",
            ObjFormat::Elf => "o",
        }
    }

    /// Conventional archive extension.
    pub fn lib_ext(self) -> &'static str {
        match self {
            ObjFormat::Coff => "lib",
            ObjFormat::Elf => "a",
        }
    }
}

/// The freestanding flags every test C file is compiled with (without the caller's flags):
/// `-target <triple>`, `-ffreestanding -fno-stack-protector -fno-builtin -nostdlib -O2`, the arch's
/// flags (`-mno-red-zone`, rv64gc/lp64d/medany, `-mno-lsx -mno-lasx`) and `-mno-stack-arg-probe` for COFF.
pub fn base_cflags(arch: Arch, format: ObjFormat) -> Vec<String> {
    let mut f: Vec<String> = vec!["-target".into(), arch.clang_triple(format).into()];
    for s in [
        "-ffreestanding",
        "-fno-stack-protector",
        "-fno-builtin",
        "-nostdlib",
        "-O2",
    ] {
        f.push(s.into());
    }
    f.extend(arch.clang_arch_flags().iter().map(|s| s.to_string()));
    if format == ObjFormat::Coff {
        f.push("-mno-stack-arg-probe".into());
    }
    f.extend(["-Wall", "-Wextra", "-Werror=implicit-function-declaration"].map(String::from));
    f
}

/// Compiles one C file to an object with clang-19. `flags` come after the base flags (so they can
/// override e.g. `-O2` or add `-fpie`). Panics with clang's stderr if compilation fails.
pub fn compile_c(arch: Arch, format: ObjFormat, flags: &[&str], src: &Path, out: &Path) {
    let clang = need_tool(CLANG).unwrap_or_else(|e| panic!("{e}"));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    let mut cmd = Command::new(clang);
    cmd.args(base_cflags(arch, format))
        .args(flags)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(out);
    run_checked(
        &mut cmd,
        &format!("compiling {} for {arch} {format:?}", src.display()),
    );
}

/// Creates (replacing any existing file) a static archive with a symbol table from `members`, in
/// the given order, with llvm-ar-19 (`rcsD`: deterministic).
pub fn archive(out: &Path, members: &[PathBuf]) {
    let ar = need_tool(LLVM_AR).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_file(out);
    let mut cmd = Command::new(ar);
    cmd.arg("rcsD").arg(out).args(members);
    run_checked(&mut cmd, &format!("archiving {}", out.display()));
}

/// Runs a command; on failure (or if it cannot start) panics with the command line, status,
/// stdout and stderr. Returns stdout.
pub fn run_checked(cmd: &mut Command, what: &str) -> String {
    let line = command_line(cmd);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run `{line}`: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({})\ncommand: {line}\n--- stderr ---\n{}\n--- stdout ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A shell-like rendering of a command, for messages.
pub fn command_line(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&quote(a));
    }
    s
}

fn quote(a: &OsStr) -> String {
    let s = a.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
