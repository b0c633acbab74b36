//! What each fuzz target runs, shared with the regression test that replays `regressions/`
//! under plain `cargo test` (pectl/tests/fuzz_regressions.rs includes this file). Errors are
//! expected; only a panic, a hang, an abort or an unbounded allocation is a finding.

/// The PE reader behind `pectl inspect`, `pectl verify`, `pectl uki` and the ISO tools.
pub fn pe_reader(data: &[u8]) {
    let report = peln_pe::verify::verify(data);
    let _ = report.error_text();
    if let Ok(h) = peln_pe::Headers::parse(data) {
        let (rva, size) = h.dir(peln_pe::headers::IMAGE_DIRECTORY_ENTRY_BASERELOC);
        if let Some(at) = h.rva_to_offset(rva, size as usize) {
            let _ = peln_pe::baserel::parse(&data[at..at + size as usize]);
        }
    }
    let _ = pectl::inspect::render("fuzz.efi", data);
    let _ = peln_uki::pe_checksum(data);
    let _ = peln_uki::detect_uname(data);
}

/// `pectl uki` with a fuzzed stub and kernel: the first two bytes say where the stub ends.
pub fn uki(data: &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let split = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (stub, linux) = rest.split_at(split);
    let initrds = [b"initrd".to_vec()];
    let parts = peln_uki::Parts {
        stub: peln_uki::Input {
            name: "stub.efi",
            data: stub,
        },
        linux: peln_uki::Input {
            name: "vmlinuz",
            data: linux,
        },
        os_release: Some(b"ID=fuzz\n"),
        cmdline: Some(b"console=ttyS0"),
        uname: None,
        initrds: &initrds,
        sbat: &[],
    };
    if let Ok(uki) = peln_uki::assemble(&parts) {
        // What `pectl uki` writes must itself read back.
        peln_pe::Headers::parse(&uki.image).expect("a UKI we built parses");
        let _ = peln_pe::verify::verify(&uki.image);
    }
}

/// `cloud-boot-iso`'s input validation (a `--uki` file), for every arch slot.
pub fn iso_input(data: &[u8]) {
    let dir = std::env::temp_dir().join(format!("pectl-fuzz-iso-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("uki.efi");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    for arch in cloud_boot_iso::arch::Arch::ALL {
        let _ = cloud_boot_iso::pe::validate(&path, arch);
    }
}

/// The linker's command-line flavours (lld-link and GNU ld syntax): the input is split into
/// arguments at newlines, its first byte picks the program name. Only detection and parsing
/// run, never a link; `@FILE` arguments are dropped so that the fuzzer does not read the
/// machine's files (response files are tested with committed fixtures).
pub fn flavors(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let program = [
        "pectl",
        "ld.lld",
        "lld-link",
        "ld.lld-19",
        "x86_64-w64-mingw32-ld",
    ];
    let mut argv = vec![std::ffi::OsString::from(
        program[usize::from(pick) % program.len()],
    )];
    argv.extend(
        rest.split(|&b| b == b'\n')
            .map(String::from_utf8_lossy)
            .filter(|a| !a.starts_with('@'))
            .map(|a| std::ffi::OsString::from(a.into_owned())),
    );
    if let Ok(Some((flavor, start))) = pectl::flavor::detect(&argv) {
        let _ = pectl::flavor::parse(flavor, &argv[start..]);
    }
}

/// `pectl verify`'s Authenticode path on an untrusted image: the certificate table walk, the
/// PKCS#7 / SpcIndirectDataContent decoding, the hash ranges, and (with a trusted certificate)
/// the attribute, RSA and chain checks.
pub fn authenticode(data: &[u8]) {
    static CERT: &[u8] = include_bytes!("../../../sign/tests/keys/rsa2048.crt");
    let trusted = peln_sign::parse_certificates(CERT).expect("the committed test certificate");
    let _ = peln_sign::authenticode_digest(data);
    let _ = peln_sign::verify(data, &[]);
    let _ = peln_sign::verify(data, &trusted);
}
