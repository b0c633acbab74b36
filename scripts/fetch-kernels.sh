#!/usr/bin/env bash
# Fetches Debian trixie kernels for amd64, arm64 and riscv64, Debian sid's for loong64 (the only
# suite that has that architecture), and systemd's UKI stub, for the UKI end-to-end boots. Packages are downloaded with apt-get (private lists, nothing is installed) and
# only the kernel image is unpacked (kernel packages also carry modules: not extracted); the .debs
# are deleted afterwards.
#
#   $PELN_CACHE_DIR/kernels/<arch>/vmlinuz.efi      a PE kernel with the EFI stub (Machine checked)
#   $PELN_CACHE_DIR/kernels/<arch>/package          "<package> <version>" it came from
#   $PELN_CACHE_DIR/systemd/linuxx64.efi.stub       systemd-boot-efi's x86-64 UKI stub
#
# The kernels are Debian's `cloud-<arch>` flavour where there is one (amd64, arm64: a third of the
# size of the generic flavour, and it has what QEMU q35/virt needs: 8250/PL011 serial, virtio,
# devtmpfs, initramfs) and the generic flavour on riscv64 and loong64; the `-unsigned` variant when
# it exists. sid moves: its version is resolved from the index at fetch time, never pinned.
# Idempotent: each file is skipped when it is already present and valid.
set -euo pipefail
shopt -s inherit_errexit

CACHE=${PELN_CACHE_DIR:-$HOME/.cache/peln}
KDIR=$CACHE/kernels
SDIR=$CACHE/systemd
MIRROR=http://deb.debian.org/debian
mkdir -p "$CACHE"

# shellcheck source=scripts/lib-apt.sh
. "$(dirname "$0")/lib-apt.sh"

# Downloads the kernel package of `arch` into the current directory; prints "<package> <version>".
# Normal path: apt-get update + apt-cache + apt-get download (signature and hashes checked).
# Fallback, when the arch's index fails apt's verification (seen here for riscv64: the mirror served
# a Packages file older than its InRelease): the unverified index resolves the package, and
# apt-helper downloads it with the SHA256 that index gives.
download_kernel() {
  local arch=$1 meta dep pkg ver suite darch
  meta=$(meta_of "$arch")
  suite=$(suite_of "$arch")
  darch=$(deb_arch_of "$arch")
  apt_opts "$suite" "$darch"
  local log=$CACHE/apt-$suite-$darch/update.log
  if apt-get "${APT[@]}" update -qq >"$log" 2>&1; then
    # sid splits the kernel image (linux-binary-…) from its modules: take the image's package.
    pkg=$(kernel_file_packages "$(kernel_package_of "$meta")" | grep -v -E '^linux-(modules|base)-' | head -n 1)
    apt-get "${APT[@]}" download -qq "$pkg" >&2
    ver=$(version_of "$pkg")
  else
    grep -m 1 '^E:' "$log" >&2 || cat "$log" >&2
    [ "$suite" = trixie ] || return 1 # the fallback below knows trixie's unsplit packages only
    echo "fetch-kernels: warning: trixie $arch index failed apt's verification; resolving $meta from the unverified index and downloading with its SHA256" >&2
    local idx=$CACHE/apt-trixie-$arch/Packages
    /usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file \
      "$MIRROR/dists/trixie/main/binary-$arch/Packages.gz" "$idx.gz" >&2
    gzip -dc "$idx.gz" >"$idx" && rm -f "$idx.gz"
    dep=$(field_of "$idx" "$meta" Depends | sed 's/^\([^ ,]*\).*/\1/')
    [ -n "$dep" ] || { echo "fetch-kernels: cannot resolve $meta" >&2; return 1; }
    pkg=$dep
    [ -z "$(field_of "$idx" "$dep-unsigned" Filename)" ] || pkg=$dep-unsigned
    local file sha
    file=$(field_of "$idx" "$pkg" Filename)
    sha=$(field_of "$idx" "$pkg" SHA256)
    ver=$(field_of "$idx" "$pkg" Version)
    [ -n "$file" ] && [ -n "$sha" ] || { echo "fetch-kernels: $pkg has no Filename/SHA256" >&2; return 1; }
    /usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file "$MIRROR/$file" "$PWD/${file##*/}" "SHA256:$sha" >&2
    rm -f "$idx"
  fi
  echo "$pkg $ver"
}

total=0
for arch in amd64 arm64 riscv64 loongarch64; do
  out=$KDIR/$arch/vmlinuz.efi
  want=$(machine_of "$arch")
  if [ "$(pe_machine "$out" 2>/dev/null || true)" = "$want" ]; then
    echo "fetch-kernels: $arch: $(cat "$KDIR/$arch/package" 2>/dev/null || echo kernel) present ($(human "$(stat -c %s "$out")"))"
    continue
  fi
  work=$CACHE/kernel-work-$arch
  rm -rf "$work" && mkdir -p "$work/root" "$KDIR/$arch"
  echo "fetch-kernels: $arch: downloading"
  info=$(cd "$work" && download_kernel "$arch")
  read -r pkg ver <<<"$info"
  deb=$(ls "$work"/*.deb)
  size=$(stat -c %s "$deb")
  total=$((total + size))
  echo "fetch-kernels: $arch: $pkg $ver ($(human "$size") .deb)"
  # amd64/arm64 ship boot/vmlinuz-* (bzImage, Image.gz), riscv64 boot/vmlinux-* (a plain Image),
  # sid's loong64 usr/lib/modules/<kver>/vmlinuz (EFI zboot).
  if [ "$(suite_of "$arch")" = sid ]; then pattern='./usr/lib/modules/*/vmlinuz'; else pattern='./boot/vmlinu[xz]-*'; fi
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" --wildcards "$pattern"
  rm -f "$deb"
  vmlinuz=$(shopt -s nullglob; for f in "$work"/root/boot/vmlinu[xz]-* "$work"/root/usr/lib/modules/*/vmlinuz; do echo "$f"; break; done)
  kernel_pe "$vmlinuz" "$out.tmp"
  got=$(pe_machine "$out.tmp" || true)
  if [ "$got" != "$want" ]; then
    echo "fetch-kernels: $arch: ${vmlinuz##*/} is not a PE for machine 0x$want (got '${got:-no PE header}')" >&2
    exit 1
  fi
  mv "$out.tmp" "$out"
  echo "$pkg $ver" >"$KDIR/$arch/package"
  rm -rf "$work"
  echo "fetch-kernels: $arch: $out ($(human "$(stat -c %s "$out")"), PE machine 0x$got)"
done

stub=$SDIR/linuxx64.efi.stub
if [ "$(pe_machine "$stub" 2>/dev/null || true)" = 8664 ]; then
  echo "fetch-kernels: systemd stub: $(cat "$SDIR/package" 2>/dev/null || echo stub) present ($(human "$(stat -c %s "$stub")"))"
else
  work=$CACHE/systemd-work
  rm -rf "$work" && mkdir -p "$work/root" "$SDIR"
  apt_opts trixie amd64
  apt-get "${APT[@]}" update -qq
  ver=$(version_of systemd-boot-efi)
  (cd "$work" && apt-get "${APT[@]}" download -qq systemd-boot-efi)
  deb=$(ls "$work"/*.deb)
  total=$((total + $(stat -c %s "$deb")))
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" ./usr/lib/systemd/boot/efi/linuxx64.efi.stub
  cp "$work/root/usr/lib/systemd/boot/efi/linuxx64.efi.stub" "$stub.tmp"
  [ "$(pe_machine "$stub.tmp" || true)" = 8664 ] || { echo "fetch-kernels: linuxx64.efi.stub is not an x86-64 PE" >&2; exit 1; }
  mv "$stub.tmp" "$stub"
  echo "systemd-boot-efi $ver" >"$SDIR/package"
  rm -rf "$work"
  echo "fetch-kernels: systemd stub: systemd-boot-efi $ver: $stub ($(human "$(stat -c %s "$stub")"))"
fi
[ "$total" -eq 0 ] || echo "fetch-kernels: downloaded $(human "$total") of packages"
