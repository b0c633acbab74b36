#!/usr/bin/env bash
# live-iso.sh OUTDIR [ARCH...] — a real Debian trixie live ISO for ARCHes (amd64 arm64 riscv64,
# the default: all three), the way a distribution's pipeline makes one:
#
#   1. mmdebstrap builds a root per arch: systemd, udev, the arch's Debian kernel, dracut +
#      dracut-live, systemd-boot-efi (foreign arches run their maintainer scripts through
#      qemu-user via binfmt_misc, which this script registers when it is not yet);
#   2. the root's own dracut, run inside the root, makes the initramfs (--no-hostonly,
#      dmsquash-live), as the distribution's kernel hook would;
#   3. a unit in the root, peln-live-ready.service, prints after multi-user.target
#        PELN-LIVE-READY: arch=<uname -m> root=<fstype of /> squashfs=<loop backing file>
#          id=<this root's id> systemd=<version> failed=<n>[<units>]
#      and powers off;
#   4. each root is exported as a build-iso boot-files tar and a squashfs;
#   5. build-iso packs all of them into OUTDIR/live.iso (one BLS entry and one squashfs per arch).
#
# Roots are built in parallel (step 1-4 per arch). Needs root (mmdebstrap --mode=root, chroot,
# mounts, binfmt_misc).
#
# Outputs: OUTDIR/live.iso and OUTDIR/<arch>/{boot.tar,squashfs.img,packages}. Built roots are
# cached by content under $PELN_CACHE_DIR/live-iso/<arch>-<key>, where the key hashes this script,
# lib-apt.sh and the package list: a rerun reuses them and only repacks the ISO. Downloaded .debs
# are kept in $PELN_CACHE_DIR/live-iso/debs-<arch> (mmdebstrap resolves every package from the
# trixie index at build time: nothing is pinned). Every step prints its time and output size.
#
# Environment: BUILD_ISO (default: target/release/build-iso, else target/debug/build-iso),
# PELN_CACHE_DIR, SOURCE_DATE_EPOCH (default 0), MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
shopt -s inherit_errexit

usage() { echo "usage: $0 OUTDIR [amd64|arm64|riscv64 ...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1
shift
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64 riscv64)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${PELN_CACHE_DIR:-$HOME/.cache/peln}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
# shellcheck source=scripts/lib-apt.sh
. "$HERE/lib-apt.sh"

BUILD_ISO=${BUILD_ISO:-}
if [ -z "$BUILD_ISO" ]; then
  for b in "$ROOT/target/release/build-iso" "$ROOT/target/debug/build-iso"; do
    [ -x "$b" ] && { BUILD_ISO=$b; break; }
  done
fi
[ -n "$BUILD_ISO" ] && [ -x "$BUILD_ISO" ] ||
  { echo "live-iso: build-iso not built (cargo build -p cloud-boot-iso --bins, or set BUILD_ISO)" >&2; exit 1; }
for t in mmdebstrap mksquashfs; do
  command -v $t >/dev/null || { echo "live-iso: $t missing: run scripts/setup-test-env.sh" >&2; exit 1; }
done

# Time and size of each step.
t0=$(date +%s)
step_start=$t0
step() {
  local now
  now=$(date +%s)
  printf 'live-iso: %-44s %4d s  %s\n' "$1" $((now - step_start)) "${2:-}"
  step_start=$now
}
size_of() { human "$(du -sb "$1" | cut -f1)"; }

# Foreign arches run their maintainer scripts (and dracut) through qemu-user: binfmt_misc must
# know the interpreters. The setup script installs qemu-user + qemu-user-binfmt (Debian's
# /usr/lib/binfmt.d entries, flag F: the static interpreter is opened at registration, so it works
# inside the chroot); without systemd-binfmt to load them, they are registered here.
binfmt() {
  local q=$1 d=/proc/sys/fs/binfmt_misc
  [ -e "$d/register" ] || mount -t binfmt_misc binfmt_misc "$d" 2>/dev/null ||
    { echo "live-iso: binfmt_misc cannot be mounted here: foreign roots cannot run their maintainer scripts" >&2; exit 1; }
  [ -e "$d/qemu-$q" ] || cat "/usr/lib/binfmt.d/qemu-$q.conf" >"$d/register" ||
    { echo "live-iso: cannot register qemu-$q with binfmt_misc" >&2; exit 1; }
}

uname_of() { case $1 in amd64) echo x86_64 ;; arm64) echo aarch64 ;; riscv64) echo riscv64 ;; esac; }
efi_of() { case $1 in amd64) echo x64 ;; arm64) echo aa64 ;; riscv64) echo riscv64 ;; esac; }

# The root's packages, on top of mmdebstrap's minbase (Essential: yes, and apt); zstd for
# dracut's compressor.
packages_of() {
  echo systemd systemd-sysv udev dracut dracut-live systemd-boot-efi kmod util-linux zstd "$(meta_of "$1")"
}

# The ready line's unit and script, and what a live root should not wait for under TCG.
customize_root() {
  local r=$1 id=$2
  mkdir -p "$r/usr/local/sbin"
  echo "$id" >"$r/etc/peln-live-id"
  echo peln-live >"$r/etc/hostname"
  cat >"$r/usr/local/sbin/peln-live-ready" <<'EOF'
#!/bin/sh
# After multi-user.target: which arch, what the root is, which squashfs it came from, systemd's
# version and its failed units; then power off (the boot test waits for this line).
sq=$(losetup -n -O BACK-FILE 2>/dev/null | grep -m 1 squashfs || true)
failed=$(systemctl list-units --failed --plain --no-legend | awk '{ print $1 }' | paste -sd, -)
n=$(systemctl list-units --failed --plain --no-legend | wc -l)
echo "PELN-LIVE-READY: arch=$(uname -m) root=$(findmnt -no FSTYPE /) squashfs=${sq##*/}" \
  "id=$(cat /etc/peln-live-id) systemd=$(systemctl --version | awk 'NR == 1 { print $2 }')" \
  "failed=$n[$failed]" >/dev/console
systemctl --no-block poweroff
EOF
  chmod 0755 "$r/usr/local/sbin/peln-live-ready"
  cat >"$r/etc/systemd/system/peln-live-ready.service" <<'EOF'
[Unit]
Description=peln live ISO: print the ready line, then power off
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/peln-live-ready

[Install]
WantedBy=multi-user.target
EOF
  mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
  ln -sf /etc/systemd/system/peln-live-ready.service "$r/etc/systemd/system/multi-user.target.wants/"
  # systemd-firstboot would prompt on the console of a root without a machine id.
  ln -sf /dev/null "$r/etc/systemd/system/systemd-firstboot.service"
}

# build_root ARCH DIR: mmdebstrap + the root's dracut + export, into DIR.
build_root() {
  local arch=$1 dir=$2 kver r debs
  r=$dir/root
  debs=$CACHE/live-iso/debs-$arch
  mkdir -p "$debs" "$dir"
  [ "$arch" = amd64 ] || binfmt "$(uname_of "$arch")"
  # INITRD=No: the kernel's postinst hook would run dracut (host-only, under emulation) once more.
  INITRD=No mmdebstrap --mode=root --variant=minbase --arch="$arch" --format=directory \
    --include="$(packages_of "$arch" | tr ' ' ',')" \
    --aptopt='Acquire::Languages "none"' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --skip=essential/unlink --skip=download/empty \
    --setup-hook="mkdir -p \"\$1/var/cache/apt/archives\" && cp -a $debs/. \"\$1/var/cache/apt/archives/\"" \
    --customize-hook="cp -a \"\$1/var/cache/apt/archives/.\" $debs/ && rm -f \"\$1\"/var/cache/apt/archives/*.deb" \
    trixie "$r" "$MIRROR" >"$dir/mmdebstrap.log" 2>&1 ||
    { tail -n 30 "$dir/mmdebstrap.log" >&2; echo "live-iso: mmdebstrap $arch failed (log: $dir/mmdebstrap.log)" >&2; return 1; }
  chroot "$r" dpkg-query -W -f '${Package} ${Version}\n' >"$dir/packages"
  step "$arch: mmdebstrap (trixie, $(wc -l <"$dir/packages") packages)" "$(size_of "$r")"

  customize_root "$r" "debian-$(uname_of "$arch")"
  kver=$(ls "$r/lib/modules" | sort -V | tail -n 1)
  # --one-file-system on every rm of a root: a root whose bind mounts outlived a killed run must not
  # take the host's /dev with it.
  trap 'umount -R "$r/dev" "$r/proc" "$r/sys" 2>/dev/null || true' EXIT
  mount -t proc proc "$r/proc"
  mount --rbind /dev "$r/dev"
  mount -t sysfs sysfs "$r/sys"
  # dmsquash-live finds the ISO by label and mounts its squashfs; the drivers of QEMU's CD and disk
  # go in explicitly, since --no-hostonly leaves out what this build machine does not use. zstd -6
  # instead of Debian's default gzip -9: under qemu-user that gzip alone takes minutes.
  if ! chroot "$r" dracut --force --quiet --reproducible --no-hostonly --no-hostonly-cmdline \
    --no-early-microcode --kver "$kver" --add "dmsquash-live" --compress "zstd -q -6 -T0" \
    --add-drivers "virtio_pci virtio_blk virtio_scsi sr_mod cdrom isofs loop squashfs overlay ahci" \
    "/boot/initramfs-$kver.img" >"$dir/dracut.log" 2>&1; then
    tail -n 30 "$dir/dracut.log" >&2
    echo "live-iso: dracut $arch failed (log: $dir/dracut.log)" >&2
    return 1
  fi
  umount -R "$r/dev"
  umount "$r/proc" "$r/sys"
  trap - EXIT
  step "$arch: dracut in the root ($kver)" "$(human "$(stat -c %s "$r/boot/initramfs-$kver.img")")"

  local bt=$dir/boot-tree efi
  efi=$(efi_of "$arch")
  mkdir -p "$bt/usr/lib/modules/$kver" "$bt/usr/lib/systemd/boot/efi"
  # vmlinuz (amd64 bzImage, arm64 gzipped Image) or vmlinux (riscv64's gzipped Image).
  kernel_pe "$(ls "$r"/boot/vmlinu[xz]-"$kver")" "$bt/usr/lib/modules/$kver/vmlinuz"
  mv "$r/boot/initramfs-$kver.img" "$bt/usr/lib/modules/$kver/initramfs.img"
  cp "$r/usr/lib/systemd/boot/efi/systemd-boot$efi.efi" "$bt/usr/lib/systemd/boot/efi/"
  tar -C "$bt" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    -cf "$dir/boot.tar" usr
  rm -rf "$bt"
  mksquashfs "$r" "$dir/squashfs.img" -noappend -comp zstd -no-progress -quiet -e boot \
    -mkfs-time "$SOURCE_DATE_EPOCH" -all-time "$SOURCE_DATE_EPOCH" >/dev/null 2> >(grep -v "^Unrecognised xattr prefix" >&2)
  rm -rf --one-file-system "$r"
  step "$arch: boot tar + squashfs" "$(human "$(stat -c %s "$dir/squashfs.img")") squashfs"
}

mkdir -p "$out" "$CACHE/live-iso"
key_base=$(cat "$0" "$HERE/lib-apt.sh" | sha256sum | cut -c1-16)
# The roots not cached yet are built at the same time: a foreign root spends most of its time in
# one emulated process after another (dpkg, maintainer scripts, dracut), so two of them keep two
# cores busy, and the native one is mostly downloads and disk.
declare -A dir_of=() pid_of=()
for arch in "${arches[@]}"; do
  case $arch in amd64 | arm64 | riscv64) ;; *) usage ;; esac
  key=$( (echo "$key_base"; packages_of "$arch") | sha256sum | cut -c1-16)
  dir_of[$arch]=$CACHE/live-iso/$arch-$key
  if [ -f "${dir_of[$arch]}/squashfs.img" ] && [ -f "${dir_of[$arch]}/boot.tar" ]; then
    step "$arch: cached root $arch-$key" "$(human "$(stat -c %s "${dir_of[$arch]}/squashfs.img")") squashfs"
  else
    rm -rf --one-file-system "${dir_of[$arch]}.new"
    build_root "$arch" "${dir_of[$arch]}.new" &
    pid_of[$arch]=$!
  fi
done
failed=0
for arch in "${!pid_of[@]}"; do
  if wait "${pid_of[$arch]}"; then
    rm -rf --one-file-system "${dir_of[$arch]}" && mv "${dir_of[$arch]}.new" "${dir_of[$arch]}"
  else
    failed=1
  fi
done
[ "$failed" -eq 0 ] || { echo "live-iso: a root failed to build (see above)" >&2; exit 1; }
step_start=$(date +%s)
iso_args=()
for arch in "${arches[@]}"; do
  mkdir -p "$out/$arch"
  for f in boot.tar squashfs.img packages; do
    ln -f "${dir_of[$arch]}/$f" "$out/$arch/$f" 2>/dev/null || cp "${dir_of[$arch]}/$f" "$out/$arch/$f"
  done
  iso_args+=(--arch "$(uname_of "$arch"):$out/$arch/boot.tar:$out/$arch/squashfs.img")
done
"$BUILD_ISO" -q "${iso_args[@]}" "$out/live.iso"
step "build-iso (${arches[*]})" "$(human "$(stat -c %s "$out/live.iso")")"
echo "live-iso: $out/live.iso in $(($(date +%s) - t0)) s"
