#!/usr/bin/env bash
# mkdracut.sh OUTDIR — the x86_64 live initramfs made by Debian's real dracut (dmsquash-live, from
# the dracut-live package) for the Debian kernel that scripts/fetch-live.sh cached, and a build-iso
# boot-files tar around it:
#
#   OUTDIR/initramfs.img   dracut --no-hostonly -m dmsquash-live, the drivers of QEMU's CD and disk
#   OUTDIR/boot.tar        as scripts/mklive.sh makes it, with this initramfs
#
# dracut runs on this (bookworm) host against the kernel's unpacked modules: they are staged as
# <tmp>/lib/modules/<kver>, indexed with the host's depmod, and handed over with --kmoddir. It is
# bookworm's dracut 059 (installed by scripts/setup-test-env.sh): trixie's dracut-install binary
# needs trixie's libc. Its userspace (bash, udev, blkid, …) comes from the host, as dracut always
# does; only the kernel modules come from the Debian kernel package.
set -euo pipefail
shopt -s inherit_errexit

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
out=$1
CACHE=${PELN_CACHE_DIR:-$HOME/.cache/peln}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib-live.sh
. "$HERE/lib-live.sh"
src=$CACHE/live/amd64
[ -f "$src/packages" ] || { echo "mkdracut: $src missing: run scripts/fetch-live.sh" >&2; exit 1; }
for t in dracut depmod; do
  command -v $t >/dev/null || { echo "mkdracut: $t missing: run scripts/setup-test-env.sh" >&2; exit 1; }
done
[ -d /usr/lib/dracut/modules.d/90dmsquash-live ] ||
  { echo "mkdracut: dracut's dmsquash-live missing (dracut-live): run scripts/setup-test-env.sh" >&2; exit 1; }
mdir=$(live_modules_dir "$src")
kver=${mdir##*/}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peln-mkdracut-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lib/modules" "$out"
cp -a "$mdir" "$tmp/lib/modules/$kver"
depmod -b "$tmp" "$kver"
# No systemd in the initramfs: dracut's own shell init is smaller and boots faster under TCG.
# kernel-modules is what loads --force-drivers: efivarfs, which nothing mounts before the live root
# does (whose squashfs has no modules), must be loaded here.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0} dracut --force --quiet --reproducible --no-hostonly \
  --no-hostonly-cmdline --no-early-microcode --kver "$kver" --kmoddir "$tmp/lib/modules/$kver" \
  --tmpdir "$tmp" -m "kernel-modules dmsquash-live" --omit "systemd systemd-initrd dbus i18n" \
  --add-drivers "$(live_modules amd64 | tr '\n' ' ')" --force-drivers efivarfs \
  --compress gzip "$out/initramfs.img"
live_boot_tar amd64 "$out/initramfs.img" "$out/boot.tar"
