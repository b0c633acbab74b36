#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian 12 (bookworm) machine: clang/lld/llvm 19,
# image tools, what the live-ISO tests build with (squashfs-tools, cpio, zstd, kmod, and bookworm's
# dracut 059 with dracut-live: trixie's dracut 106 needs libc6 >= 2.38 and libkmod2 >= 33), QEMU 10
# from bookworm-backports, edk2 2025.02 firmware + UEFI shells for all four arches (trixie arch:all
# packages, unpacked, never installed: they would pull a newer libc), Debian's kernels for all four
# arches and systemd's UKI stub (scripts/fetch-kernels.sh), the live-ISO inputs of all four arches
# (scripts/fetch-live.sh), and `task` (PyPI go-task-bin) for Taskfile.yaml.
# Idempotent: each step is skipped when its result is already present.
#
# Firmware lands in $PELN_FW_DIR (default: ~/.cache/peln/fw), kernels in $PELN_CACHE_DIR/kernels and
# the stub in $PELN_CACHE_DIR/systemd (default cache: ~/.cache/peln); the tests read the same variables.
set -euo pipefail

CACHE=${PELN_CACHE_DIR:-$HOME/.cache/peln}
FW=${PELN_FW_DIR:-$CACHE/fw}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$CACHE"

need_apt=()
for p in clang-19 lld-19 llvm-19 xorriso mtools dosfstools gdisk fdisk gcc-riscv64-linux-gnu genisoimage \
  squashfs-tools cpio zstd xz-utils kmod dracut-core dracut-live; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# QEMU 10: bookworm-backports on top of the system sources (the backports list alone cannot
# resolve libfdt1/libslirp0).
if ! qemu-system-loongarch64 --version 2>/dev/null | grep -qE 'version (9|1[0-9])\.'; then
  echo "setup: installing QEMU from bookworm-backports"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" >"$CACHE/bpo.list"
  BPO=(-o Dir::Etc::sourcelist="$CACHE/bpo.list" -o Dir::Etc::sourceparts=/etc/apt/sources.list.d -o Dir::State::Lists="$CACHE/bpo-lists")
  mkdir -p "$CACHE/bpo-lists/partial"
  $SUDO apt-get "${BPO[@]}" update -qq
  $SUDO apt-get "${BPO[@]}" install -y -qq --no-install-recommends -t bookworm-backports \
    qemu-system-x86 qemu-system-arm qemu-system-misc
fi

# edk2 firmware and UEFI shells from trixie, unpacked only.
if [ ! -f "$FW/usr/share/qemu-efi-loongarch64/QEMU_EFI.fd" ] || [ ! -f "$FW/usr/share/OVMF/OVMF_CODE_4M.fd" ]; then
  echo "setup: fetching edk2 firmware into $FW"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$CACHE/trixie.list"
  TRX=(-o Dir::Etc::sourcelist="$CACHE/trixie.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$CACHE/trixie-lists" -o APT::Sandbox::User=root)
  mkdir -p "$CACHE/trixie-lists/partial" "$CACHE/debs" "$FW"
  $SUDO apt-get "${TRX[@]}" update -qq
  (cd "$CACHE/debs" && $SUDO apt-get "${TRX[@]}" download ovmf qemu-efi-aarch64 qemu-efi-riscv64 qemu-efi-loongarch64 \
      efi-shell-x64 efi-shell-aa64 efi-shell-riscv64 efi-shell-loongarch64)
  for f in "$CACHE"/debs/*.deb; do dpkg -x "$f" "$FW"; done
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
task --version | grep -q "^$TASK_VERSION" || { echo "setup: task $TASK_VERSION not on PATH ($(command -v task || echo none))" >&2; exit 1; }

# Rust targets and the rust-src component (stub/build.sh and the loongarch64 tests build core with
# -Zbuild-std), for the stable toolchain the tests use and for nightly (cargo fuzz).
command -v rustup >/dev/null || { echo "setup: rustup missing: the Rust targets cannot be added" >&2; exit 1; }
for tc in stable nightly; do
  rustup toolchain list | grep -q "^$tc" || rustup toolchain install --profile minimal "$tc"
  for t in x86_64-unknown-uefi aarch64-unknown-uefi riscv64gc-unknown-none-elf; do
    rustup +"$tc" target list --installed | grep -qx "$t" || rustup +"$tc" target add "$t"
  done
  rustup +"$tc" component list --installed | grep -q '^rust-src' || rustup +"$tc" component add rust-src
done

for t in clang-19 ld.lld-19 lld-link-19 llvm-ar-19 task qemu-system-x86_64 qemu-system-aarch64 qemu-system-riscv64 qemu-system-loongarch64 xorriso mkfs.fat sgdisk \
  mksquashfs cpio zstd depmod dracut; do
  command -v "$t" >/dev/null || { echo "setup: $t missing after install" >&2; exit 1; }
done
# Prove the Rust pieces rather than trust the install steps above.
for tc in stable nightly; do
  for t in x86_64-unknown-uefi aarch64-unknown-uefi riscv64gc-unknown-none-elf; do
    rustup +"$tc" target list --installed | grep -qx "$t" || { echo "setup: rust target $t ($tc) missing" >&2; exit 1; }
  done
  [ -f "$(rustc +"$tc" --print sysroot)/lib/rustlib/src/rust/library/Cargo.lock" ] || { echo "setup: rust-src ($tc) missing" >&2; exit 1; }
done
echo "setup: ok (firmware in $FW, kernels in $CACHE/kernels, $(task --version | head -n 1))"
