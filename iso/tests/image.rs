//! Whole-image structure and reproducibility, read back byte by byte from the output file.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use cloud_boot_iso::gpt::crc32;
use common::{fake_pe, gpt_partition, read_at, run, u32le, u64le};

struct Inputs {
    dir: tempfile::TempDir,
}

impl Inputs {
    fn new() -> Inputs {
        let i = Inputs {
            dir: tempfile::tempdir().unwrap(),
        };
        let d = i.dir.path();
        common::write_four_arch_ukis(d, 5000);
        fs::create_dir_all(d.join("tree/b")).unwrap();
        fs::write(d.join("tree/a.txt"), b"alpha\n").unwrap();
        fs::write(d.join("tree/b/c.txt"), b"gamma\n").unwrap();
        fs::write(d.join("note.md"), b"# note\n").unwrap();
        i
    }
    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn args(&self, out: &str, reversed: bool) -> Vec<String> {
        let mut ukis = vec![
            format!("linux/amd64={}", self.p("x64.efi")),
            format!("linux/arm64={}", self.p("aa64.efi")),
            format!("linux/riscv64={}", self.p("rv64.efi")),
            format!("linux/loongarch64={}", self.p("la64.efi")),
        ];
        let mut adds = vec![
            format!("/={}", self.p("tree")),
            format!("docs/note.md={}", self.p("note.md")),
        ];
        if reversed {
            ukis.reverse();
            adds.reverse();
        }
        let mut a = Vec::new();
        for u in ukis {
            a.push("--uki".to_string());
            a.push(u);
        }
        for x in adds {
            a.push("--add".to_string());
            a.push(x);
        }
        a.extend(["-o".to_string(), self.p(out), "-q".to_string()]);
        a
    }
}

fn run_args(args: &[String], env: &[(&str, &str)]) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&a, env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn two_builds_are_byte_identical_whatever_the_argument_order() {
    let i = Inputs::new();
    run_args(&i.args("a.iso", false), &[]);
    run_args(&i.args("b.iso", false), &[]);
    run_args(&i.args("c.iso", true), &[]);
    let a = fs::read(i.out("a.iso")).unwrap();
    assert!(a == fs::read(i.out("b.iso")).unwrap(), "rebuild differs");
    assert!(
        a == fs::read(i.out("c.iso")).unwrap(),
        "argument order changed the image"
    );

    // SOURCE_DATE_EPOCH drives every timestamp: PVD creation date and the GUIDs stay derived.
    run_args(
        &i.args("d.iso", false),
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    let d = fs::read(i.out("d.iso")).unwrap();
    assert_ne!(a, d);
    assert_eq!(&a[16 * 2048 + 813..16 * 2048 + 830], b"1970010100000000\0");
    assert_eq!(&d[16 * 2048 + 813..16 * 2048 + 830], b"2023111422132000\0");
}

#[test]
fn gpt_mbr_el_torito_and_pvd_agree() {
    let i = Inputs::new();
    run_args(&i.args("x.iso", false), &[]);
    let img = i.out("x.iso");
    let size = fs::metadata(&img).unwrap().len();
    assert_eq!(size % 2048, 0, "CD drives read whole 2 KiB blocks");
    let lbas = size / 512;

    // Protective MBR.
    let mbr = read_at(&img, 0, 512);
    assert_eq!(&mbr[510..], &[0x55, 0xAA]);
    assert_eq!(mbr[446 + 4], 0xEE);
    assert_eq!(u32le(&mbr, 446 + 8), 1);
    assert_eq!(u32le(&mbr, 446 + 12) as u64, lbas - 1);

    // Primary and backup GPT headers: CRCs, pointers, same entry array.
    let check_header = |lba: u64, other: u64, entries_lba: u64| {
        let h = read_at(&img, lba * 512, 512);
        assert_eq!(&h[..8], b"EFI PART");
        let mut z = h[..92].to_vec();
        z[16..20].fill(0);
        assert_eq!(u32le(&h, 16), crc32(&z), "header CRC at LBA {lba}");
        assert_eq!(u64le(&h, 24), lba);
        assert_eq!(u64le(&h, 32), other);
        assert_eq!(u64le(&h, 72), entries_lba);
        let entries = read_at(&img, entries_lba * 512, 128 * 128);
        assert_eq!(u32le(&h, 88), crc32(&entries), "entries CRC");
        (h, entries)
    };
    let (h1, e1) = check_header(1, lbas - 1, 2);
    let (h2, e2) = check_header(lbas - 1, 1, lbas - 33);
    assert_eq!(e1, e2);
    assert_eq!(&h1[40..72], &h2[40..72], "usable range and disk GUID");

    // Partition 1: the ISO volume from its descriptors up to the ESP; partition 2: the ESP.
    let (p1_first, p1_last, _) = gpt_partition(&img, 1);
    let (p2_first, p2_last, _) = gpt_partition(&img, 2);
    assert_eq!(p1_first, 64);
    assert_eq!(p1_last + 1, p2_first);
    assert_eq!(p2_first % 2048, 0, "ESP is 1 MiB aligned");
    assert_eq!((p2_last + 1 - p2_first) * 512, 16 << 20);
    assert_eq!(
        &e1[128..144],
        &[
            0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E,
            0xC9, 0x3B
        ]
    );

    // El Torito: boot record → catalog → one UEFI no-emulation entry at exactly the ESP.
    let br = read_at(&img, 17 * 2048, 2048);
    assert_eq!(&br[..30], b"\0CD001\x01EL TORITO SPECIFICATION");
    let cat = read_at(&img, u32le(&br, 71) as u64 * 2048, 64);
    assert_eq!(&cat[..2], &[1, 0xEF]);
    assert_eq!(cat[32], 0x88);
    assert_eq!(cat[33], 0);
    assert_eq!(u16::from_le_bytes([cat[38], cat[39]]), 32768);
    assert_eq!(
        u32le(&cat, 40) as u64 * 4,
        p2_first,
        "El Torito image = GPT partition 2"
    );

    // The ISO volume ends where the ESP ends (see iso9660.rs: edk2's rule for count 0).
    let pvd = read_at(&img, 16 * 2048, 2048);
    assert_eq!(u32le(&pvd, 80) as u64 * 4, p2_last + 1);
    // The ESP bytes start with a FAT16 boot sector: stored once, shared by both views.
    let bs = read_at(&img, p2_first * 512, 512);
    assert_eq!(&bs[54..62], b"FAT16   ");
}

#[test]
fn esp_sizing_rule_through_the_binary() {
    // The design note: "A typical 3-arch ISO with ~20 MiB UKIs each lands at a 96–112 MiB ESP".
    for (mib, want) in [(20u64, 112u64), (19, 96)] {
        let d = tempfile::tempdir().unwrap();
        let mut args = Vec::new();
        for (name, machine, arch) in [
            ("a.efi", 0x8664u16, "amd64"),
            ("b.efi", 0xaa64, "arm64"),
            ("c.efi", 0x5064, "riscv64"),
        ] {
            let p = d.path().join(name);
            fs::write(&p, fake_pe(machine, 0x20b, 10)).unwrap();
            fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_len(mib << 20)
                .unwrap();
            args.extend(common::uki_args(arch, &p));
        }
        let out = common::build_image(args, d.path().join("o.iso"));
        let (first, last, _) = gpt_partition(&out, 2);
        assert_eq!((last + 1 - first) * 512, want << 20, "{mib} MiB inputs");
    }
}

#[test]
fn library_report_matches_the_file() {
    let i = Inputs::new();
    let cfg = cloud_boot_iso::Config {
        ukis: vec![cloud_boot_iso::Uki {
            arch: cloud_boot_iso::Arch::Arm64,
            path: i.out("aa64.efi"),
        }],
        adds: vec![],
        output: i.out("lib.iso"),
        volume_label: "LIB".into(),
        source_date_epoch: 0,
        progress: false,
        sign: None,
    };
    let r = cloud_boot_iso::build(&cfg).unwrap();
    assert_eq!(r.image_bytes, fs::metadata(i.out("lib.iso")).unwrap().len());
    assert_eq!(r.esp_offset, 1 << 20);
    assert_eq!(r.fat_type, cloud_boot_iso::FatType::Fat16);
    let h = read_at(Path::new(&i.out("lib.iso")), 512, 92);
    assert_eq!(common::guid_text(&h[56..72]), r.disk_guid);
}
