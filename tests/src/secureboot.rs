//! Secure Boot for the boot tests: fresh key pairs, varstores that enroll them
//! (`scripts/secureboot-vars.sh`), `pectl sign` command lines, and what a refusal by enforcing
//! firmware looks like on the console.
//!
//! The key pair is made with the openssl CLI (a test-side generator only: pectl itself never runs
//! openssl); Debian's snakeoil pair comes with the firmware ([`crate::secure_boot_firmware`]).
use crate::cc::run_checked;
use crate::env::{cache_dir, need_tool, repo_root, SNAKEOIL_PASSWORD};
use crate::qemu::{BootOpts, BootResult, ACCESS_DENIED};
use crate::Arch;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A private key (unencrypted PKCS#8 PEM) and its self-signed certificate (PEM).
#[derive(Clone, Debug)]
pub struct KeyPair {
    pub key: PathBuf,
    pub cert: PathBuf,
    /// A file holding the key's password, for `--key-password-file` (`None`: unencrypted key).
    pub password_file: Option<PathBuf>,
}

/// `scripts/secureboot-vars.sh`.
pub fn vars_script() -> PathBuf {
    repo_root().join("scripts/secureboot-vars.sh")
}

/// `virt-fw-vars` in the venv the setup script makes.
pub fn virt_fw_vars() -> PathBuf {
    cache_dir().join("virt-firmware/bin/virt-fw-vars")
}

/// What making and enrolling a fresh key needs: openssl and virt-fw-vars.
pub fn check_key_tools() -> Result<(), String> {
    need_tool("openssl")?;
    let v = virt_fw_vars();
    if !v.is_file() {
        return Err(format!(
            "{} missing (run scripts/setup-test-env.sh)",
            v.display()
        ));
    }
    Ok(())
}

/// A fresh RSA-2048 key pair `<dir>/<name>.key` + `<dir>/<name>.pem` (CN = `name`).
pub fn fresh_key_pair(dir: &Path, name: &str) -> KeyPair {
    let (key, cert) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pem")),
    );
    let mut cmd = Command::new("openssl");
    cmd.args([
        "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
    ])
    .args(["-days", "3650", "-subj", &format!("/CN={name}/")])
    .arg("-keyout")
    .arg(&key)
    .arg("-out")
    .arg(&cert);
    run_checked(&mut cmd, "making a key pair with openssl");
    KeyPair {
        key,
        cert,
        password_file: None,
    }
}

/// `pair`'s key encrypted with `password` (PKCS#8, PBES2 AES-256-CBC, as distributions ship
/// signing keys) at `out`, and `password` plus a newline in `<out>.pw`: the encrypted-key paths
/// of the signing CLIs (`--key-password-file`).
pub fn encrypted(pair: &KeyPair, out: &Path, password: &str) -> KeyPair {
    let mut cmd = Command::new("openssl");
    cmd.args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout"])
        .arg(format!("pass:{password}"))
        .arg("-in")
        .arg(&pair.key)
        .arg("-out")
        .arg(out);
    run_checked(&mut cmd, "encrypting a key with openssl");
    let pw = out.with_extension("pw");
    std::fs::write(&pw, format!("{password}\n")).expect("write the password file");
    KeyPair {
        key: out.to_path_buf(),
        cert: pair.cert.clone(),
        password_file: Some(pw),
    }
}

/// Debian's snakeoil pair of `arch`'s Secure Boot firmware, with its password written to
/// `<dir>/snakeoil.pass`.
pub fn snakeoil(arch: Arch, dir: &Path) -> Result<KeyPair, String> {
    let fw = crate::env::secure_boot_firmware(arch)?;
    let pass = dir.join("snakeoil.pass");
    std::fs::write(&pass, SNAKEOIL_PASSWORD).expect("write the password file");
    Ok(KeyPair {
        key: fw.snakeoil_key,
        cert: fw.snakeoil_cert,
        password_file: Some(pass),
    })
}

/// A varstore for `arch` with `cert` enrolled as PK, KEK and db and Secure Boot on, made by
/// `scripts/secureboot-vars.sh` into `out`.
pub fn enrolled_vars(arch: Arch, cert: &Path, out: &Path) -> PathBuf {
    let mut cmd = Command::new("bash");
    cmd.arg(vars_script())
        .arg(arch.pectl_machine())
        .arg(cert)
        .arg(out);
    run_checked(
        &mut cmd,
        "enrolling a certificate with scripts/secureboot-vars.sh",
    );
    out.to_path_buf()
}

/// `<key_flag> K <cert_flag> C [--key-password-file F]`: the signing CLIs name the key and the
/// certificate differently, the password file alike.
fn key_flags(pair: &KeyPair, key_flag: &str, cert_flag: &str) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![
        key_flag.into(),
        pair.key.clone().into(),
        cert_flag.into(),
        pair.cert.clone().into(),
    ];
    if let Some(p) = &pair.password_file {
        a.extend(["--key-password-file".into(), p.clone().into()]);
    }
    a
}

/// `--sign-key K --sign-cert C [--key-password-file F]`: `pair` as `pectl link`, `cloud-boot-iso`
/// and `build-iso` take it.
pub fn sign_flags(pair: &KeyPair) -> Vec<OsString> {
    key_flags(pair, "--sign-key", "--sign-cert")
}

/// argv (with argv[0]) of `pectl sign --key K --cert C [--key-password-file F] -o OUT IN`.
pub fn pectl_sign_args(pair: &KeyPair, input: &Path, out: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["pectl".into(), "sign".into()];
    a.extend(key_flags(pair, "--key", "--cert"));
    a.extend(["-o".into(), out.into(), input.into()]);
    a
}

/// Boot options for enforcing firmware with the varstore `vars`, stopping at a refusal (after
/// it the firmware only tries its next boot options) or when `marker` appears.
pub fn secure_opts(vars: &Path, base: BootOpts) -> BootOpts {
    BootOpts {
        secure_boot: Some(vars.to_path_buf()),
        ..base
    }
}

/// Panics unless the firmware refused the image: its `Access Denied` line is on the console and
/// `marker` (what the image prints once it runs) is not.
pub fn assert_refused(r: &BootResult, marker: &str) {
    assert!(
        r.serial.contains(ACCESS_DENIED),
        "expected the firmware to refuse the image ({ACCESS_DENIED:?})\n{}",
        r.describe()
    );
    assert!(
        !r.serial.contains(marker),
        "the refused image ran ({marker:?} on the console)\n{}",
        r.describe()
    );
}

/// A copy of `src` at `dst` with the byte at `offset` inverted.
pub fn flip_byte(src: &Path, dst: &Path, offset: usize) -> PathBuf {
    let mut b = std::fs::read(src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
    b[offset] ^= 0xff;
    std::fs::write(dst, b).unwrap_or_else(|e| panic!("write {}: {e}", dst.display()));
    dst.to_path_buf()
}
