#!/usr/bin/env bash
# Installs everything the tests and Taskfile.yaml need on a fresh Debian 12 (bookworm) machine,
# then proves it: clang/lld/llvm 19, image tools, what the live-ISO tests build with
# (squashfs-tools, cpio, zstd, kmod, and bookworm's dracut 059 with dracut-live: trixie's dracut 106
# needs libc6 >= 2.38 and libkmod2 >= 33), QEMU 10 from bookworm-backports, edk2 2025.02 firmware +
# UEFI shells for all four arches (trixie arch:all packages, unpacked, never installed: they would
# pull a newer libc), Debian's kernels for all four arches (trixie; sid for loong64) and systemd's
# UKI stub (scripts/fetch-kernels.sh), the live-ISO inputs of all four arches
# (scripts/fetch-live.sh), `task` (PyPI go-task-bin), the Rust targets and rust-src for stable and
# nightly, cargo-fuzz, and Debian trixie's ukify with pefile (the reference `pectl uki` is
# compared with).
#
# Two parts: INSTALL steps, each skipped when its result is already present (idempotent), then
# one CHECK section that tests every item the tests use and fails naming each missing one. The
# checks do not trust the install steps: an install that "succeeded" but left a tool missing
# fails here, not in a test. To add a package: install it in a step, and add its check below.
#
# Firmware lands in $PELN_FW_DIR (default: $PELN_CACHE_DIR/fw), kernels in $PELN_CACHE_DIR/kernels,
# the stub in $PELN_CACHE_DIR/systemd, ukify in $PELN_CACHE_DIR/ukify (default cache:
# ~/.cache/peln); the tests read the same variables. CI points PELN_CACHE_DIR at an empty
# directory, so every download path runs on every CI run.
set -euo pipefail

CACHE=${PELN_CACHE_DIR:-$HOME/.cache/peln}
FW=${PELN_FW_DIR:-$CACHE/fw}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$CACHE"

# apt-get with bookworm-backports on top of the system sources (the backports list alone cannot
# resolve libfdt1/libslirp0), installing "$@" from backports.
bpo_install() {
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" >"$CACHE/bpo.list"
  local bpo=(-o Dir::Etc::sourcelist="$CACHE/bpo.list" -o Dir::Etc::sourceparts=/etc/apt/sources.list.d -o Dir::State::Lists="$CACHE/bpo-lists")
  mkdir -p "$CACHE/bpo-lists/partial"
  $SUDO apt-get "${bpo[@]}" update -qq
  $SUDO apt-get "${bpo[@]}" install -y -qq --no-install-recommends -t bookworm-backports "$@"
}

# trixie_download DIR PACKAGE...: downloads trixie's .debs into DIR, to be unpacked and never
# installed (trixie packages would pull a newer libc). trixie's index only, read once per run.
trixie_updated=""
trixie_download() {
  local dir=$1
  shift
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$CACHE/trixie.list"
  local trx=(-o Dir::Etc::sourcelist="$CACHE/trixie.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$CACHE/trixie-lists" -o APT::Sandbox::User=root)
  mkdir -p "$CACHE/trixie-lists/partial" "$dir"
  [ -n "$trixie_updated" ] || { $SUDO apt-get "${trx[@]}" update -qq && trixie_updated=1; }
  (cd "$dir" && $SUDO apt-get "${trx[@]}" download "$@")
}

# ============================================================================================
# INSTALL
# ============================================================================================

need_apt=()
for p in clang-19 lld-19 llvm-19 binutils xorriso mtools dosfstools gdisk fdisk gcc-riscv64-linux-gnu genisoimage \
  cpio gzip xz-utils python3-venv squashfs-tools zstd kmod dracut-core dracut-live osslsigncode; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# QEMU 10 from bookworm-backports.
if ! qemu-system-loongarch64 --version 2>/dev/null | grep -qE 'version (9|1[0-9])\.'; then
  echo "setup: installing QEMU from bookworm-backports"
  bpo_install qemu-system-x86 qemu-system-arm qemu-system-misc
fi

# The Debian live ISO (scripts/live-iso.sh, iso/tests/live_debian.rs): mmdebstrap builds trixie
# roots; foreign ones (arm64, riscv64) run their maintainer scripts and dracut through qemu-user,
# registered with binfmt_misc by Debian's qemu-user-binfmt entries (live-iso.sh registers them
# itself where no systemd-binfmt runs, as in CI's container). bookworm-backports: mmdebstrap 1.5
# and qemu-user 10 (static, as QEMU 10's system emulators above); arch-test for mmdebstrap's
# foreign-arch check.
if ! command -v mmdebstrap >/dev/null || ! qemu-riscv64 --version 2>/dev/null | grep -qE 'version (9|1[0-9])\.' ||
  [ ! -f /usr/lib/binfmt.d/qemu-riscv64.conf ] || ! command -v arch-test >/dev/null; then
  echo "setup: installing mmdebstrap, qemu-user and qemu-user-binfmt from bookworm-backports"
  bpo_install mmdebstrap qemu-user qemu-user-binfmt arch-test
fi

# edk2 firmware and UEFI shells from trixie, unpacked only.
if [ ! -f "$FW/usr/share/qemu-efi-loongarch64/QEMU_EFI.fd" ] || [ ! -f "$FW/usr/share/OVMF/OVMF_CODE_4M.fd" ]; then
  echo "setup: fetching edk2 firmware into $FW"
  mkdir -p "$FW"
  trixie_download "$CACHE/debs" ovmf qemu-efi-aarch64 qemu-efi-riscv64 qemu-efi-loongarch64 \
    efi-shell-x64 efi-shell-aa64 efi-shell-riscv64 efi-shell-loongarch64
  for f in "$CACHE"/debs/*.deb; do dpkg -x "$f" "$FW"; done
fi

# U-Boot, the second UEFI firmware (tests: iso/tests/uboot.rs): trixie's u-boot-qemu (arch:all,
# 2025.01), unpacked beside edk2 like it: usr/lib/u-boot/{qemu_arm64,qemu-riscv64_smode}/u-boot.bin
# and qemu-x86_64/u-boot.rom. riscv64's S-mode U-Boot runs under QEMU's own OpenSBI (-bios default).
if [ ! -f "$FW/usr/lib/u-boot/qemu_arm64/u-boot.bin" ]; then
  echo "setup: fetching u-boot-qemu (trixie) into $FW"
  mkdir -p "$FW"
  trixie_download "$CACHE/uboot-deb" u-boot-qemu
  dpkg -x "$CACHE"/uboot-deb/u-boot-qemu_*.deb "$FW"
  rm -rf "$CACHE/uboot-deb"
fi

# Debian trixie kernels (amd64, arm64, riscv64) and systemd-boot's linuxx64.efi.stub, for the UKI
# boots; the script skips what is already cached.
PELN_CACHE_DIR=$CACHE "$(dirname "$0")/fetch-kernels.sh"

# The live-ISO boots (build-iso): per arch a Debian kernel with its modules, systemd-boot and
# busybox-static (trixie; sid for loong64, also the loongarch64 kernel of the UKI boot).
PELN_CACHE_DIR=$CACHE "$(dirname "$0")/fetch-live.sh"

# `task` for Taskfile.yaml: PyPI's go-task-bin ships the static Go binary; it is installed into a
# throw-away venv and copied to /usr/local/bin, which is on every shell's PATH (a pip --user or
# pyenv install would put it where CI's shell may not look).
TASK_VERSION=3.54.0
if ! task --version 2>/dev/null | grep -q "^$TASK_VERSION"; then
  echo "setup: installing task $TASK_VERSION (PyPI go-task-bin) into /usr/local/bin"
  venv=$(mktemp -d "${TMPDIR:-/tmp}/peln-go-task-XXXXXX")
  if ! python3 -m venv "$venv" 2>/dev/null; then
    $SUDO apt-get install -y -qq --no-install-recommends python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "go-task-bin==$TASK_VERSION"
  $SUDO install -m 0755 "$venv/bin/task" /usr/local/bin/task
  rm -rf "$venv"
  hash -r
fi

# Rust targets and the rust-src component (stub/build.sh and the loongarch64 tests build core with
# -Zbuild-std), for the stable toolchain the tests use and for nightly (cargo fuzz).
command -v rustup >/dev/null || { echo "setup: rustup missing: install it from https://rustup.rs (the Rust targets cannot be added)" >&2; exit 1; }
for tc in stable nightly; do
  rustup toolchain list | grep -q "^$tc" || rustup toolchain install --profile minimal "$tc"
  for t in x86_64-unknown-uefi aarch64-unknown-uefi riscv64gc-unknown-none-elf; do
    rustup +"$tc" target list --installed | grep -qx "$t" || rustup +"$tc" target add "$t"
  done
  rustup +"$tc" component list --installed | grep -q '^rust-src' || rustup +"$tc" component add rust-src
done


# cargo-fuzz for the fuzz targets (pectl/fuzz, linker/fuzz; run by scripts/fuzz.sh).
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "setup: installing cargo-fuzz $CARGO_FUZZ_VERSION (crates.io)"
  cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

# Debian trixie's ukify (systemd-ukify, a Python script) and pefile from PyPI in a venv: the
# reference `pectl uki` is compared with (pectl/tests/ukify.rs). pefile is pinned to the version
# trixie ships with ukify 257.
UKIFY_DIR=$CACHE/ukify
PEFILE_VERSION=2024.8.26
if [ ! -x "$UKIFY_DIR/usr/bin/ukify" ]; then
  echo "setup: fetching systemd-ukify from trixie into $UKIFY_DIR"
  trixie_download "$CACHE/ukify-deb" systemd-ukify
  dpkg -x "$CACHE"/ukify-deb/systemd-ukify_*.deb "$UKIFY_DIR"
  rm -rf "$CACHE/ukify-deb"
fi
if ! "$UKIFY_DIR/venv/bin/python" -c "import pefile, sys; sys.exit(pefile.__version__ != '$PEFILE_VERSION')" 2>/dev/null; then
  echo "setup: installing pefile $PEFILE_VERSION (PyPI) into $UKIFY_DIR/venv"
  python3 -m venv "$UKIFY_DIR/venv" 2>/dev/null || {
    $SUDO apt-get install -y -qq --no-install-recommends python3-venv
    python3 -m venv "$UKIFY_DIR/venv"
  }
  "$UKIFY_DIR/venv/bin/pip" install -q --disable-pip-version-check "pefile==$PEFILE_VERSION"
fi

# --- Secure Boot (issue 19): sbsign/sbverify (bookworm's sbsigntool) as a reference signer, and
# virt-fw-vars (PyPI virt-firmware, in a venv under the cache) to enroll a fresh key pair as
# PK/KEK/db in an edk2 varstore (scripts/secureboot-vars.sh). The Secure Boot firmware itself comes
# with the ovmf and qemu-efi-aarch64 packages unpacked above.
# openssl makes the tests' fresh key pairs (a key generator only: pectl never runs it).
for p in sbsigntool openssl; do
  dpkg -s "$p" >/dev/null 2>&1 || {
    echo "setup: installing $p"
    $SUDO apt-get install -y -qq --no-install-recommends "$p"
  }
done
VIRT_FW_VENV=$CACHE/virt-firmware
if ! "$VIRT_FW_VENV/bin/virt-fw-vars" --help >/dev/null 2>&1; then
  echo "setup: installing virt-firmware (PyPI) into $VIRT_FW_VENV"
  python3 -m venv "$VIRT_FW_VENV"
  "$VIRT_FW_VENV/bin/pip" install -q --disable-pip-version-check virt-firmware
fi
# --- end Secure Boot

# ============================================================================================
# CHECK: every item the tests and the Taskfile use, each named when missing.
# ============================================================================================

missing=()
# need WHAT COMMAND...: WHAT is missing unless COMMAND succeeds.
need() {
  local what=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$what")
}
need_cmd() { for c in "$@"; do need "command $c" command -v "$c"; done; }
need_file() { need "$2 ($1)" test -s "$1"; }

need_cmd clang-19 ld.lld-19 lld-link-19 llvm-ar-19 llvm-readobj-19 llvm-dwarfdump-19 \
  riscv64-linux-gnu-gcc objcopy xorriso isoinfo mcopy mdir mkfs.fat fsck.fat sgdisk sfdisk \
  cpio gzip xz python3 mksquashfs zstd depmod dracut \
  qemu-system-x86_64 qemu-system-aarch64 qemu-system-riscv64 qemu-system-loongarch64
need "QEMU >= 9 (qemu-system-loongarch64 --version)" sh -c 'qemu-system-loongarch64 --version | grep -qE "version (9|1[0-9])\."'
need "task $TASK_VERSION on PATH" sh -c "task --version | grep -q '^$TASK_VERSION'"
for rel in OVMF/OVMF_CODE_4M.fd OVMF/OVMF_VARS_4M.fd AAVMF/AAVMF_CODE.fd AAVMF/AAVMF_VARS.fd \
  qemu-efi-riscv64/RISCV_VIRT_CODE.fd qemu-efi-riscv64/RISCV_VIRT_VARS.fd \
  qemu-efi-loongarch64/QEMU_EFI.fd qemu-efi-loongarch64/QEMU_VARS.fd \
  efi-shell-x64/shellx64.efi efi-shell-aa64/shellaa64.efi efi-shell-riscv64/shellriscv64.efi \
  efi-shell-loongarch64/shellloongarch64.efi; do
  need_file "$FW/usr/share/$rel" "edk2 firmware/UEFI shell"
done
for rel in qemu_arm64/u-boot.bin qemu-riscv64_smode/u-boot.bin qemu-x86_64/u-boot.rom; do
  need_file "$FW/usr/lib/u-boot/$rel" "U-Boot firmware (u-boot-qemu)"
done
need "QEMU's OpenSBI for U-Boot riscv64 (-bios default)" sh -c 'test -s "$(dirname "$(command -v qemu-system-riscv64)")/../share/qemu/opensbi-riscv64-generic-fw_dynamic.bin"'
for a in amd64 arm64 riscv64 loongarch64; do
  need_file "$CACHE/kernels/$a/vmlinuz.efi" "Debian $a kernel"
  for f in vmlinuz busybox packages; do need_file "$CACHE/live/$a/$f" "live-ISO input (fetch-live.sh)"; done
done
# Secure Boot (issue 19): enforcing firmware, Debian's snakeoil keys, the reference signer, the
# varstore tool.
for rel in OVMF/OVMF_CODE_4M.secboot.fd OVMF/OVMF_VARS_4M.snakeoil.fd ovmf/PkKek-1-snakeoil.key ovmf/PkKek-1-snakeoil.pem \
  AAVMF/AAVMF_CODE.secboot.fd AAVMF/AAVMF_VARS.snakeoil.fd qemu-efi-aarch64/PkKek-1-snakeoil.key \
  qemu-efi-aarch64/PkKek-1-snakeoil.pem; do
  need_file "$FW/usr/share/$rel" "edk2 Secure Boot firmware/snakeoil key"
done
need_cmd sbsign sbverify openssl osslsigncode
need "virt-fw-vars ($VIRT_FW_VENV/bin/virt-fw-vars)" "$VIRT_FW_VENV/bin/virt-fw-vars" --help
need_cmd mmdebstrap arch-test chroot qemu-aarch64 qemu-riscv64
for q in aarch64 riscv64; do need_file "/usr/lib/binfmt.d/qemu-$q.conf" "binfmt entry (qemu-user-binfmt)"; done
need "binfmt_misc mounted or mountable (foreign mmdebstrap roots)" sh -c \
  'test -e /proc/sys/fs/binfmt_misc/register || $0 mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc' "${SUDO:-env}"
need "dracut's dmsquash-live module (dracut-live)" test -d /usr/lib/dracut/modules.d/90dmsquash-live
need_file "$CACHE/systemd/linuxx64.efi.stub" "systemd UKI stub"
need "ukify ($UKIFY_DIR/usr/bin/ukify) runs with pefile $PEFILE_VERSION" \
  "$UKIFY_DIR/venv/bin/python" "$UKIFY_DIR/usr/bin/ukify" --version
for tc in stable nightly; do
  for t in x86_64-unknown-uefi aarch64-unknown-uefi riscv64gc-unknown-none-elf; do
    need "rust target $t ($tc)" sh -c "rustup +$tc target list --installed | grep -qx $t"
  done
  need "rust-src ($tc)" sh -c "test -f \"\$(rustc +$tc --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock\""
done
need "cargo-fuzz $CARGO_FUZZ_VERSION (cargo fuzz --version)" sh -c "cargo fuzz --version | grep -q $CARGO_FUZZ_VERSION"

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: FAILED: ${#missing[@]} item(s) missing after install:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "setup: ok (firmware in $FW, kernels in $CACHE/kernels, ukify in $UKIFY_DIR, $(task --version | head -n 1))"
