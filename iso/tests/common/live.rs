//! Inputs of the build-iso tests: Debian's kernels, systemd-boot and busybox as
//! scripts/fetch-live.sh cached them, turned into boot-files tars and squashfs roots by
//! scripts/mklive.sh (once per test binary and arch).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use peln_tests::cc::run_checked;
use peln_tests::env::{cache_dir, repo_root, skip_or_fail};
use peln_tests::BootResult;

pub const BUILD_ISO: &str = env!("CARGO_BIN_EXE_build-iso");

/// (peln arch, uname -m, systemd-boot suffix) of the four arches.
pub const ARCHES: [(&str, &str, &str); 4] = [
    ("amd64", "x86_64", "x64"),
    ("arm64", "aarch64", "aa64"),
    ("riscv64", "riscv64", "riscv64"),
    ("loongarch64", "loongarch64", "loongarch64"),
];

pub fn uname(arch: &str) -> &'static str {
    ARCHES.iter().find(|a| a.0 == arch).unwrap().1
}

pub fn efi(arch: &str) -> &'static str {
    ARCHES.iter().find(|a| a.0 == arch).unwrap().2
}

/// `$PELN_CACHE_DIR/live/<arch>`, or `None` (skip; a failure under CI) when fetch-live.sh has not
/// run.
pub fn fetched(arch: &str) -> Option<PathBuf> {
    let d = cache_dir().join("live").join(arch);
    if d.join("packages").is_file() {
        Some(d)
    } else {
        skip_or_fail(&format!(
            "{} missing (run scripts/setup-test-env.sh, which runs scripts/fetch-live.sh)",
            d.display()
        ));
        None
    }
}

/// Debian's systemd-boot for `arch`.
pub fn sdboot(arch: &str) -> Option<PathBuf> {
    Some(fetched(arch)?.join(format!("systemd-boot{}.efi", efi(arch))))
}

/// Debian's kernel (a PE with the EFI stub) for `arch`.
pub fn kernel(arch: &str) -> Option<PathBuf> {
    Some(fetched(arch)?.join("vmlinuz"))
}

/// What scripts/mklive.sh made for one arch.
#[derive(Clone, Debug)]
pub struct Live {
    pub dir: PathBuf,
    pub boot_tar: PathBuf,
    pub squashfs: PathBuf,
    pub initramfs: PathBuf,
    pub kver: String,
    pub id: String,
}

impl Live {
    /// build-iso's `--arch NAME:BOOT_TAR:SQUASHFS` for this root as arch `name`.
    pub fn arch_args(&self, name: &str) -> [String; 2] {
        [
            "--arch".into(),
            format!(
                "{name}:{}:{}",
                self.boot_tar.display(),
                self.squashfs.display()
            ),
        ]
    }
}

/// scripts/mklive.sh for `arch` with squashfs id `id`, once per test binary.
pub fn mklive(arch: &str, id: &str) -> Option<Live> {
    static DONE: Mutex<Option<HashMap<String, Live>>> = Mutex::new(None);
    fetched(arch)?;
    for t in ["mksquashfs", "cpio"] {
        if !super::have_tool(t) {
            return None;
        }
    }
    let key = format!("{arch}/{id}");
    let mut done = DONE.lock().unwrap();
    if let Some(l) = done.get_or_insert_with(HashMap::new).get(&key) {
        return Some(l.clone());
    }
    let dir = super::scratch(&format!("live-{arch}-{id}"));
    run_checked(
        Command::new(repo_root().join("scripts/mklive.sh")).args([
            arch,
            &dir.display().to_string(),
            id,
        ]),
        &format!("scripts/mklive.sh {arch}"),
    );
    let live = Live {
        boot_tar: dir.join("boot.tar"),
        squashfs: dir.join("squashfs.img"),
        initramfs: dir.join("initramfs.img"),
        kver: std::fs::read_to_string(dir.join("kver"))
            .unwrap()
            .trim()
            .to_string(),
        id: id.to_string(),
        dir,
    };
    done.as_mut().unwrap().insert(key, live.clone());
    Some(live)
}

#[derive(Clone, Copy, Debug)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Writes a boot-files tar holding `members` (path in the tar, host file), deterministic headers.
pub fn boot_tar(out: &Path, compression: Compression, members: &[(&str, &Path)]) {
    let mut b = tar::Builder::new(Vec::new());
    for (name, host) in members {
        let data = std::fs::read(host).unwrap_or_else(|e| panic!("{}: {e}", host.display()));
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    let bytes = b.into_inner().unwrap();
    let mut f = File::create(out).unwrap();
    match compression {
        Compression::None => std::io::Write::write_all(&mut f, &bytes).unwrap(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            std::io::Write::write_all(&mut e, &bytes).unwrap();
            e.finish().unwrap();
        }
        Compression::Zstd => {
            // No zstd encoder among the dependencies: the zstd tool (installed by the setup
            // script) compresses.
            drop(f);
            let raw = out.with_extension("raw");
            std::fs::write(&raw, &bytes).unwrap();
            let s = Command::new("zstd")
                .args(["-q", "-f", "-o"])
                .arg(out)
                .arg(&raw)
                .status()
                .expect("run zstd");
            assert!(s.success());
            std::fs::remove_file(&raw).unwrap();
        }
    }
}

/// Run build-iso with `args`, SOURCE_DATE_EPOCH cleared unless `env` sets it.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    super::run_bin(BUILD_ISO, args, env)
}

/// Run build-iso and insist on success.
pub fn build(args: &[impl AsRef<str>]) {
    super::build_bin(BUILD_ISO, args)
}

/// Runs build-iso quietly with `args` and the output `out` last; returns `out`.
pub fn build_image(mut args: Vec<String>, out: PathBuf) -> PathBuf {
    args.extend(["-q".into(), out.display().to_string()]);
    build(&args);
    out
}

/// Asserts the marker's arch (`uname -m`), squashfs id and selected BLS entry; returns the
/// entries systemd-boot listed.
pub fn assert_marker(r: &BootResult, arch: &str, squashfs: &str, selected: &str) -> Vec<String> {
    let (got_arch, got_squashfs, entries, got_selected) = marker(r);
    assert_eq!(
        (
            got_arch.as_str(),
            got_squashfs.as_str(),
            got_selected.as_str()
        ),
        (arch, squashfs, selected),
        "{}",
        r.describe()
    );
    entries
}

/// One arch of a multi-arch image (`uname -m` `u`) booted its own root (`squashfs` id) from
/// `LiveOS/squashfs-<u>.img`, and its systemd-boot listed and selected only its own entry
/// (firmware-provided ones such as `auto-reboot-to-firmware-setup` aside): the other arches'
/// were dropped by their `architecture` key.
pub fn assert_own_arch_booted(r: &BootResult, u: &str, squashfs: &str) {
    let own = format!("dakota-live-{u}.conf");
    let entries = assert_marker(r, u, squashfs, &own);
    let listed: Vec<_> = entries.iter().filter(|e| !e.starts_with("auto-")).collect();
    assert_eq!(listed, [&own], "{}", r.describe());
    r.assert_contains(&format!("LiveOS/squashfs-{u}.img"));
}

/// The fields of the live root's marker line (`PELN-LIVE: arch=… squashfs=… entries=[…]
/// selected=[…]`), or a panic with the whole boot log.
pub fn marker(r: &BootResult) -> (String, String, Vec<String>, String) {
    let line = r
        .serial
        .lines()
        .find_map(|l| l.trim().strip_prefix("PELN-LIVE: "))
        .unwrap_or_else(|| panic!("no PELN-LIVE marker:\n{}", r.describe()));
    let field = |k: &str| -> String {
        let at = line
            .find(&format!("{k}="))
            .unwrap_or_else(|| panic!("{k} missing in {line:?}"));
        let rest = &line[at + k.len() + 1..];
        let v = if let Some(inner) = rest.strip_prefix('[') {
            &inner[..inner.find(']').unwrap()]
        } else {
            rest.split(' ').next().unwrap()
        };
        v.to_string()
    };
    (
        field("arch"),
        field("squashfs"),
        field("entries")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        field("selected"),
    )
}
