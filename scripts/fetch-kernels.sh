#!/usr/bin/env bash
# Fetches Debian trixie kernels for amd64, arm64 and riscv64 and systemd's UKI stub, for the UKI
# end-to-end boots. Packages are downloaded with apt-get (private lists, nothing is installed) and
# only the kernel image is unpacked (kernel packages also carry modules: not extracted); the .debs
# are deleted afterwards.
#
#   $PELN_CACHE_DIR/kernels/<arch>/vmlinuz.efi      a PE kernel with the EFI stub (Machine checked)
#   $PELN_CACHE_DIR/kernels/<arch>/package          "<package> <version>" it came from
#   $PELN_CACHE_DIR/systemd/linuxx64.efi.stub       systemd-boot-efi's x86-64 UKI stub
#
# The kernels are Debian's `cloud-<arch>` flavour where there is one (amd64, arm64: a third of the
# size of the generic flavour, and it has what QEMU q35/virt needs: 8250/PL011 serial, virtio,
# devtmpfs, initramfs) and the generic flavour on riscv64; the `-unsigned` variant when it exists.
# Idempotent: each file is skipped when it is already present and valid.
set -euo pipefail
shopt -s inherit_errexit

CACHE=${PELN_CACHE_DIR:-$HOME/.cache/peln}
KDIR=$CACHE/kernels
SDIR=$CACHE/systemd
MIRROR=http://deb.debian.org/debian
mkdir -p "$CACHE"

# Prints the PE Machine of $1 as 4 lowercase hex digits, or fails when $1 is not MZ + PE.
pe_machine() {
  local f=$1 off sig m
  [ -f "$f" ] && [ "$(head -c 2 "$f")" = MZ ] || return 1
  off=$(od -An -tu4 -j 60 -N 4 "$f" | tr -d ' ')
  sig=$(od -An -tx1 -j "$off" -N 4 "$f" | tr -d ' ')
  [ "$sig" = 50450000 ] || return 1
  m=$(od -An -tx1 -j $((off + 4)) -N 2 "$f" | tr -d ' ')
  echo "${m:2:2}${m:0:2}"
}

machine_of() {
  case $1 in amd64) echo 8664 ;; arm64) echo aa64 ;; riscv64) echo 5064 ;; esac
}

# The kernel metapackage of an arch: the smallest flavour that boots QEMU with a serial console.
meta_of() {
  case $1 in amd64 | arm64) echo "linux-image-cloud-$1" ;; riscv64) echo linux-image-riscv64 ;; esac
}

human() { numfmt --to=iec-i --suffix=B "$1" 2>/dev/null || echo "$1 bytes"; }

echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" >"$CACHE/trixie.list"

# apt options for trixie with `arch` as the only (and native) architecture, in a private lists dir.
apt_opts() {
  local arch=$1
  mkdir -p "$CACHE/apt-trixie-$arch/lists/partial"
  : >"$CACHE/apt-trixie-$arch/status"
  APT=(-o Dir::Etc::sourcelist="$CACHE/trixie.list" -o Dir::Etc::sourceparts=-
    -o Dir::State::Lists="$CACHE/apt-trixie-$arch/lists" -o Dir::State::status="$CACHE/apt-trixie-$arch/status"
    -o Dir::Cache="$CACHE/apt-trixie-$arch/cache" -o APT::Sandbox::User=root
    -o APT::Architecture="$arch" -o APT::Architectures="$arch"
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false)
  mkdir -p "$CACHE/apt-trixie-$arch/cache/archives/partial"
}

# Fields of one package stanza from a Packages file: field_of FILE PACKAGE FIELD
field_of() {
  awk -v p="$2" -v f="$3:" '$1 == "Package:" { cur = ($2 == p) } cur && $1 == f { sub(/^[^:]*: /, ""); print; exit }' "$1"
}

# True when apt has a real (downloadable) candidate version of package $1, not just a virtual name.
has_candidate() {
  local c
  c=$(apt-cache "${APT[@]}" policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | head -n 1)
  [ -n "$c" ] && [ "$c" != "(none)" ]
}

# Downloads the kernel package of `arch` into the current directory; prints "<package> <version>".
# Normal path: apt-get update + apt-cache + apt-get download (signature and hashes checked).
# Fallback, when the arch's index fails apt's verification (seen here for riscv64: the mirror served
# a Packages file older than its InRelease): the unverified index resolves the package, and
# apt-helper downloads it with the SHA256 that index gives.
download_kernel() {
  local arch=$1 meta dep pkg ver
  meta=$(meta_of "$arch")
  apt_opts "$arch"
  local log=$CACHE/apt-trixie-$arch/update.log
  if apt-get "${APT[@]}" update -qq >"$log" 2>&1; then
    dep=$(apt-cache "${APT[@]}" show --no-all-versions "$meta" | sed -n 's/^Depends: \([^ ,]*\).*/\1/p' | head -n 1)
    [ -n "$dep" ] || { echo "fetch-kernels: cannot resolve $meta" >&2; return 1; }
    # `$dep-unsigned` may exist only as a virtual name (riscv64: provided by $dep itself), which
    # `apt-cache show` answers for but `apt-get download` cannot fetch: take it only when it has a
    # real candidate version.
    pkg=$dep
    if has_candidate "$dep-unsigned"; then pkg=$dep-unsigned; fi
    apt-get "${APT[@]}" download -qq "$pkg" >&2
    ver=$(apt-cache "${APT[@]}" show --no-all-versions "$pkg" | sed -n 's/^Version: //p' | head -n 1)
  else
    grep -m 1 '^E:' "$log" >&2 || cat "$log" >&2
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
for arch in amd64 arm64 riscv64; do
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
  # amd64/arm64 ship boot/vmlinuz-* (bzImage, Image.gz), riscv64 boot/vmlinux-* (a plain Image).
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" --wildcards './boot/vmlinu[xz]-*'
  rm -f "$deb"
  vmlinuz=$(ls "$work"/root/boot/vmlinu[xz]-*)
  if [ "$(head -c 2 "$vmlinuz" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
    gzip -dc <"$vmlinuz" >"$out.tmp" # Image.gz (arm64, riscv64): the EFI stub is in the Image
  else
    cp "$vmlinuz" "$out.tmp" # bzImage, EFI zboot or a plain Image: already a PE
  fi
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
  apt_opts amd64
  apt-get "${APT[@]}" update -qq
  ver=$(apt-cache "${APT[@]}" show --no-all-versions systemd-boot-efi | sed -n 's/^Version: //p' | head -n 1)
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
