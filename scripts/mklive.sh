#!/usr/bin/env bash
# mklive.sh ARCH OUTDIR ID — the inputs of a build-iso live boot for ARCH (amd64, arm64, riscv64,
# loongarch64), from what scripts/fetch-live.sh cached (Debian's kernel, its modules,
# systemd-boot, busybox-static). The single recipe: the tests and the bench call this script.
#
#   OUTDIR/initramfs.img  newc cpio: busybox, the modules live_modules needs (decompressed, in
#                         dependency order) and an /init that does what dracut's dmsquash-live
#                         does: find the iso9660 volume labelled as root=live:CDLABEL= says, mount
#                         it, loop-mount LiveOS/<rd.live.squashimg> (default squashfs.img), put a
#                         tmpfs overlay on it and switch_root
#   OUTDIR/boot.tar       usr/lib/modules/<kver>/{vmlinuz,initramfs.img},
#                         usr/lib/systemd/boot/efi/systemd-boot<efi>.efi (a build-iso boot-files tar)
#   OUTDIR/squashfs.img   the root: busybox and an /init that prints
#                         "PELN-LIVE: arch=<uname -m> squashfs=ID entries=[…] selected=[…]" (the
#                         LoaderEntries / LoaderEntrySelected EFI variables) and powers off
#   OUTDIR/kver           the kernel version
#
# Reproducible: every timestamp is $SOURCE_DATE_EPOCH (default 0), owners are 0:0, order sorted.
set -euo pipefail
shopt -s inherit_errexit

usage() { echo "usage: $0 amd64|arm64|riscv64|loongarch64 OUTDIR ID" >&2; exit 2; }
[ $# -eq 3 ] || usage
arch=$1 out=$2 id=$3
case $arch in amd64 | arm64 | riscv64 | loongarch64) ;; *) usage ;; esac
CACHE=${PELN_CACHE_DIR:-$HOME/.cache/peln}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib-live.sh
. "$HERE/lib-live.sh"
epoch=${SOURCE_DATE_EPOCH:-0}
src=$CACHE/live/$arch
[ -f "$src/packages" ] || { echo "mklive: $src missing: run scripts/fetch-live.sh" >&2; exit 1; }
for t in mksquashfs cpio; do
  command -v $t >/dev/null || { echo "mklive: $t missing: run scripts/setup-test-env.sh" >&2; exit 1; }
done
mdir=$(live_modules_dir "$src")
kver=${mdir##*/}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peln-mklive-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

# Stamps every file with $epoch, then writes a sorted newc archive of directory $1.
cpio_of() {
  (cd "$1" && find . -exec touch -h -d "@$epoch" {} + && find . ! -name . | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --reproducible --quiet)
}

# --- initramfs ---
ir=$tmp/initramfs
mkdir -p "$ir"/{bin,dev,proc,sys,run,sysroot,lib/modules}
cp "$src/busybox" "$ir/bin/busybox"
: >"$ir/lib/modules/load"
for f in $(live_module_order "$arch" "$mdir"); do
  m=${f##*/}
  m=${m%.xz} m=${m%.zst} m=${m%.gz}
  live_module_cat "$mdir/$f" >"$ir/lib/modules/$m"
  echo "$m" >>"$ir/lib/modules/load"
done
cat >"$ir/init" <<'INIT'
#!/bin/busybox sh
# Live initramfs (peln scripts/mklive.sh): what dracut's dmsquash-live does, with busybox.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
# The kernel found no /dev/console in this archive: take it now that devtmpfs is there.
exec 0</dev/console 1>/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
die() { echo "peln-live-initramfs: $*"; poweroff -f; }
for m in $(cat /lib/modules/load); do insmod "/lib/modules/$m" || die "insmod $m failed"; done
label= img=squashfs.img
for a in $(cat /proc/cmdline); do
  case $a in
    root=live:CDLABEL=*) label=${a#root=live:CDLABEL=} ;;
    rd.live.squashimg=*) img=${a#rd.live.squashimg=} ;;
  esac
done
[ -n "$label" ] || die "no root=live:CDLABEL= on the command line"
# The volume whose primary descriptor (block 16: type 1, "CD001") carries the label.
dev=
for try in $(seq 1 300); do
  for b in /sys/class/block/*; do
    d=/dev/${b##*/}
    [ -b "$d" ] || continue
    pvd=$(dd if="$d" bs=2048 skip=16 count=1 2>/dev/null | dd bs=1 count=72 2>/dev/null | tr -c 'A-Za-z0-9_\001' ' ')
    [ "${pvd:0:6}" = "$(printf '\001')CD001" ] || continue
    l=$(echo "${pvd:40:32}" | sed 's/ *$//')
    [ "$l" = "$label" ] && { dev=$d; break 2; }
  done
  sleep 0.2
done
[ -n "$dev" ] || die "no iso9660 volume labelled $label"
echo "peln-live-initramfs: $label on $dev, LiveOS/$img"
mkdir -p /run/live /run/rootfs.ro /run/overlay
mount -t iso9660 -o ro "$dev" /run/live || die "mount $dev"
mount -t squashfs -o ro,loop "/run/live/LiveOS/$img" /run/rootfs.ro || die "loop-mount LiveOS/$img"
mount -t tmpfs -o mode=0755 tmpfs /run/overlay
mkdir /run/overlay/upper /run/overlay/work
mount -t overlay -o lowerdir=/run/rootfs.ro,upperdir=/run/overlay/upper,workdir=/run/overlay/work overlay /sysroot ||
  die "overlay"
for m in dev proc sys; do mkdir -p "/sysroot/$m" && mount --move "/$m" "/sysroot/$m"; done
exec switch_root /sysroot /init
INIT
chmod 0755 "$ir/init" "$ir/bin/busybox"
cpio_of "$ir" >"$out/initramfs.img"

live_boot_tar "$arch" "$out/initramfs.img" "$out/boot.tar"

# --- squashfs root ---
rt=$tmp/root
mkdir -p "$rt"/{bin,sbin,dev,proc,sys,run,tmp,etc}
cp "$src/busybox" "$rt/bin/busybox"
# dracut's switch_root runs /sbin/init; ours (mklive's initramfs) runs /init.
ln -s ../init "$rt/sbin/init"
echo "$id" >"$rt/etc/peln-live-id"
cat >"$rt/init" <<'INIT'
#!/bin/busybox sh
# The live root's init (peln scripts/mklive.sh): say which arch and which squashfs this is, and
# what systemd-boot put in its EFI variables, then power off.
/bin/busybox --install -s /bin
export PATH=/bin
efi=/sys/firmware/efi/efivars
mount -t efivarfs efivarfs $efi 2>/dev/null
# An EFI variable of systemd-boot (vendor 4a67b082-…): 4 attribute bytes, then UTF-16LE strings,
# each NUL-terminated; printed as its strings separated by spaces.
var() {
  f=$efi/$1-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
  [ -f "$f" ] || { echo "(unset)"; return; }
  od -An -v -tu1 "$f" | awk '{ for (i = 1; i <= NF; i++) { n++; if (n > 4 && n % 2 == 1) {
    if ($i == 0) s = s " "; else s = s sprintf("%c", $i) } } } END { sub(/ +$/, "", s); print s }'
}
echo "PELN-LIVE: arch=$(uname -m) squashfs=$(cat /etc/peln-live-id) entries=[$(var LoaderEntries)] selected=[$(var LoaderEntrySelected)]"
poweroff -f
INIT
chmod 0755 "$rt/init" "$rt/bin/busybox"
find "$rt" -exec touch -h -d "@$epoch" {} +
rm -f "$out/squashfs.img"
mksquashfs "$rt" "$out/squashfs.img" -all-root -noappend -no-xattrs -no-progress -quiet \
  -mkfs-time "$epoch" -all-time "$epoch" >/dev/null
echo "$kver" >"$out/kver"
