//! A payload over 4 GiB: ISO level 3 multi-extent records, read back by xorriso.
//!
//! The payload is sparse and so is the image (holes are kept), so the build is fast; xorriso
//! still reads the whole 4+ GiB back. Checksums skip holes (see `content_digest`), which keeps
//! this inside the suite's time budget on two cores.

mod common;

use std::fs::{self, File};
use std::os::unix::fs::{FileExt, MetadataExt};

use common::{build_with_add, content_digest, have_tool, tool, xorriso_extract};

const SIZE: u64 = (4 << 30) + (32 << 20) + 12345;
/// Markers: start, straddling the first/second extent boundary (0xFFFFF800), a 1 MiB block in
/// the middle, and the very end.
const MARKS: [(u64, &[u8]); 4] = [
    (0, b"HEAD-OF-PAYLOAD"),
    (0xFFFF_F800 - 7, b"<-across-the-extent-boundary->"),
    (1 << 30, &[0x5A; 1 << 20]),
    (SIZE - 4, b"TAIL"),
];

#[test]
fn payload_over_4gib_reads_back_through_xorriso() {
    if !have_tool("xorriso") {
        return;
    }
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let payload = d.path().join("payload.bin");
    let f = File::create(&payload).unwrap();
    f.set_len(SIZE).unwrap();
    for (off, bytes) in MARKS {
        f.write_all_at(bytes, off).unwrap();
    }
    drop(f);
    let img_s = build_with_add(
        d.path(),
        "big.iso",
        &format!("/data/payload.bin={}", payload.display()),
    );

    // Two directory-record sections: 0xFFFFF800 bytes, then the rest.
    let (ok, out) = tool(
        "xorriso",
        &[
            "-indev",
            &img_s,
            "-find",
            "/data/payload.bin",
            "-exec",
            "report_sections",
            "--",
        ],
    );
    assert!(ok, "{out}");
    let sections: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("File data lba:"))
        .map(|l| l[14..].split(',').map(str::trim).collect())
        .collect();
    assert_eq!(sections.len(), 2, "{out}");
    assert_eq!(sections[0][3], "4294965248");
    assert_eq!(sections[1][3], (SIZE - 0xFFFF_F800).to_string());
    let lba0: u64 = sections[0][1].parse().unwrap();
    let lba1: u64 = sections[1][1].parse().unwrap();
    assert_eq!(lba1, lba0 + 0xFFFF_F800 / 2048, "sections are contiguous");

    // Extract (sparse where the data is zero) and compare size and content checksum.
    let back = d.path().join("back.bin");
    xorriso_extract(&img_s, "/data/payload.bin", &back);
    assert_eq!(fs::metadata(&back).unwrap().len(), SIZE);
    assert_eq!(content_digest(&back), content_digest(&payload));
    // And the markers themselves, at their offsets.
    let b = File::open(&back).unwrap();
    for (off, bytes) in MARKS {
        let mut got = vec![0u8; bytes.len()];
        b.read_exact_at(&mut got, off).unwrap();
        assert!(got == bytes, "marker at {off:#x}");
    }
    // The image kept the payload's holes: far less on disk than its length.
    let allocated = fs::metadata(&img_s).unwrap().blocks() * 512;
    assert!(allocated < 64 << 20, "image allocates {allocated} bytes");
}
