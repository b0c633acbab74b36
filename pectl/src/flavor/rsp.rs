//! `@file` response files. rustc writes one when a command line is too long: for lld-link style
//! UTF-16LE with a byte-order mark, one argument per line in double quotes with `\"` escapes; for
//! GNU style UTF-8, one argument per line with `\`-escaped blanks and backslashes. Each flavour
//! splits the text as its linker does (lld: Windows or GNU command-line rules).
use std::path::Path;

use crate::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quoting {
    /// `cl::TokenizeWindowsCommandLine`: `"` groups, backslashes are literal unless they precede
    /// a `"`.
    Windows,
    /// `cl::TokenizeGNUCommandLine`: `\` escapes any character; `'` and `"` group.
    Gnu,
}

/// Response files may name response files; lld stops at a cycle, we at this depth.
const MAX_DEPTH: usize = 16;

/// Replaces every `@file` argument by the arguments the file holds.
pub fn expand(args: &[String], quoting: Quoting) -> Result<Vec<String>, Error> {
    let mut out = Vec::with_capacity(args.len());
    expand_into(args, quoting, 0, &mut out)?;
    Ok(out)
}

fn expand_into(
    args: &[String],
    quoting: Quoting,
    depth: usize,
    out: &mut Vec<String>,
) -> Result<(), Error> {
    for arg in args {
        let Some(path) = arg.strip_prefix('@') else {
            out.push(arg.clone());
            continue;
        };
        if depth == MAX_DEPTH {
            return Err(format!("response file {path}: nested more than {MAX_DEPTH} deep").into());
        }
        let bytes = std::fs::read(path).map_err(|e| format!("response file {path}: {e}"))?;
        let text = decode(Path::new(path), &bytes)?;
        expand_into(&tokenize(&text, quoting), quoting, depth + 1, out)?;
    }
    Ok(())
}

/// UTF-16LE when the file starts with its byte-order mark, else UTF-8 (with or without one).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<String, Error> {
    let bad = |what: &str| format!("response file {}: {what}", path.display());
    if let Some(rest) = bytes.strip_prefix(&[0xff, 0xfe]) {
        if rest.len() % 2 != 0 {
            return Err(bad("UTF-16LE text of odd length").into());
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]))
            .collect();
        return String::from_utf16(&units).map_err(|_| bad("invalid UTF-16LE").into());
    }
    let rest = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    String::from_utf8(rest.to_vec())
        .map_err(|_| bad("neither UTF-8 nor UTF-16LE with a BOM").into())
}

pub fn tokenize(text: &str, quoting: Quoting) -> Vec<String> {
    match quoting {
        Quoting::Windows => tokenize_windows(text),
        Quoting::Gnu => tokenize_gnu(text),
    }
}

fn tokenize_windows(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut arg = String::new();
    // A `""` argument is an empty argument, so "started" is not the same as "non-empty".
    let mut started = false;
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let mut n = 1;
                while chars.peek() == Some(&'\\') {
                    chars.next();
                    n += 1;
                }
                if chars.peek() == Some(&'"') {
                    // 2n backslashes + `"`: n backslashes and a quote toggle; 2n+1: a literal `"`.
                    arg.extend(std::iter::repeat_n('\\', n / 2));
                    if n % 2 == 1 {
                        chars.next();
                        arg.push('"');
                    }
                } else {
                    arg.extend(std::iter::repeat_n('\\', n));
                }
                started = true;
            }
            '"' => {
                // Inside quotes, `""` is a literal quote (MSVC's rule, which lld follows).
                if quoted && chars.peek() == Some(&'"') {
                    chars.next();
                    arg.push('"');
                } else {
                    quoted = !quoted;
                }
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    args.push(std::mem::take(&mut arg));
                    started = false;
                }
            }
            c => {
                arg.push(c);
                started = true;
            }
        }
    }
    if started {
        args.push(arg);
    }
    args
}

fn tokenize_gnu(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut arg = String::new();
    let mut started = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', Some('\'')) => arg.push(c),
            ('\\', _) => {
                if let Some(next) = chars.next() {
                    arg.push(next);
                }
                started = true;
            }
            (q, None) if q == '"' || q == '\'' => {
                quote = Some(q);
                started = true;
            }
            (q, Some(open)) if q == open => quote = None,
            (c, None) if c.is_whitespace() => {
                if started {
                    args.push(std::mem::take(&mut arg));
                    started = false;
                }
            }
            (c, _) => {
                arg.push(c);
                started = true;
            }
        }
    }
    if started {
        args.push(arg);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le_with_bom(text: &str) -> Vec<u8> {
        let mut bytes = vec![0xff, 0xfe];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    }

    #[test]
    fn rustc_utf16_response_file_with_its_quoting() {
        // What rustc 1.95 writes for lld-link style: one quoted argument per line, `\"` inside.
        let text = "\"/NOLOGO\"\r\n\"/entry:efi_main\"\r\n\"C:\\\\dir with space\\\\a.o\"\r\n\
                    \"/OUT:x \\\"q\\\".efi\"\r\n\"\"\r\n";
        let decoded = decode(Path::new("rsp"), &utf16le_with_bom(text)).unwrap();
        assert_eq!(
            tokenize(&decoded, Quoting::Windows),
            [
                "/NOLOGO",
                "/entry:efi_main",
                "C:\\\\dir with space\\\\a.o",
                "/OUT:x \"q\".efi",
                ""
            ]
        );
    }

    #[test]
    fn windows_rules_for_backslashes_and_quotes() {
        assert_eq!(
            tokenize_windows(r#"a\\b "c d" e\\"f g" h\"i "j""k""#),
            ["a\\\\b", "c d", "e\\f g", "h\"i", "j\"k"]
        );
    }

    #[test]
    fn rustc_gnu_response_file_escapes_blanks_and_backslashes() {
        let text = "/tmp/dir\\ with\\ space/a.o\n-o\n/out/x\\\\y\n'single q'\n\"dq \\\" x\"\n";
        let decoded = decode(Path::new("rsp"), text.as_bytes()).unwrap();
        assert_eq!(
            tokenize(&decoded, Quoting::Gnu),
            [
                "/tmp/dir with space/a.o",
                "-o",
                "/out/x\\y",
                "single q",
                "dq \" x"
            ]
        );
    }

    #[test]
    fn utf8_bom_is_dropped_and_bad_text_names_the_file() {
        assert_eq!(decode(Path::new("r"), b"\xef\xbb\xbf-o x").unwrap(), "-o x");
        let e = decode(Path::new("bad.rsp"), b"\xff\xfe\x00").unwrap_err();
        assert_eq!(
            e.to_string(),
            "response file bad.rsp: UTF-16LE text of odd length"
        );
        let e = decode(Path::new("bad.rsp"), b"\xc3\x28").unwrap_err();
        assert!(e.to_string().starts_with("response file bad.rsp:"), "{e}");
    }

    #[test]
    fn nested_response_files_expand_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("inner.rsp");
        std::fs::write(&inner, utf16le_with_bom("\"b c\"\n")).unwrap();
        let outer = dir.path().join("outer.rsp");
        std::fs::write(&outer, format!("a @{}\nd", inner.display())).unwrap();
        let args = ["x".to_string(), format!("@{}", outer.display())];
        assert_eq!(
            expand(&args, Quoting::Windows).unwrap(),
            ["x", "a", "b c", "d"]
        );
        let missing = ["@/nonexistent/r.rsp".to_string()];
        assert!(expand(&missing, Quoting::Gnu)
            .unwrap_err()
            .to_string()
            .starts_with("response file /nonexistent/r.rsp:"));
    }
}
