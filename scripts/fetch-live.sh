#!/usr/bin/env bash
# Fetches what the live-ISO boots (`build-iso` tests) and the loongarch64 kernel boot need, per
# arch, from Debian (trixie for amd64/arm64/riscv64, sid for loong64, which only sid ships):
#
#   $PELN_CACHE_DIR/live/<arch>/vmlinuz               the kernel, a PE with the EFI stub (Machine checked)
#   $PELN_CACHE_DIR/live/<arch>/modules/<kver>/       its modules tree (modules.builtin, modules.order,
#                                                     kernel/…/*.ko.xz) from the same packages
#   $PELN_CACHE_DIR/live/<arch>/systemd-boot<efi>.efi systemd-boot-efi's boot manager (Machine checked)
#   $PELN_CACHE_DIR/live/<arch>/busybox               busybox-static (ELF machine checked)
#   $PELN_CACHE_DIR/live/<arch>/packages              "<package> <version>" of every .deb used
#
# Kernels are the same flavours as fetch-kernels.sh (meta_of in lib-apt.sh). Versions come from
# the index at fetch time (sid moves: nothing is pinned). Packages are downloaded with apt-get into
# private lists and unpacked with dpkg-deb, never installed; the .debs are deleted afterwards.
# Idempotent: an arch whose `packages` stamp exists and whose files pass the checks is skipped.
# Also checks that every module scripts/mklive.sh needs is in the tree or built in.
set -euo pipefail
shopt -s inherit_errexit

CACHE=${PELN_CACHE_DIR:-$HOME/.cache/peln}
MIRROR=http://deb.debian.org/debian
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib-apt.sh
. "$HERE/lib-apt.sh"
# shellcheck source=scripts/lib-live.sh
. "$HERE/lib-live.sh"
mkdir -p "$CACHE"

# systemd-boot's file name suffix per arch.
efi_arch_of() {
  case $1 in amd64) echo x64 ;; arm64) echo aa64 ;; riscv64) echo riscv64 ;; loongarch64) echo loongarch64 ;; esac
}

# Checks the cached files of one arch; prints why they are not usable and fails, or succeeds.
check_arch() {
  local arch=$1 d=$CACHE/live/$1 got kdirs
  [ -f "$d/packages" ] || { echo "not fetched yet"; return 1; }
  got=$(pe_machine "$d/vmlinuz" || true)
  [ "$got" = "$(machine_of "$arch")" ] || { echo "vmlinuz: PE machine '${got:-none}'"; return 1; }
  got=$(pe_machine "$d/systemd-boot$(efi_arch_of "$arch").efi" || true)
  [ "$got" = "$(machine_of "$arch")" ] || { echo "systemd-boot: PE machine '${got:-none}'"; return 1; }
  got=$(elf_machine "$d/busybox" || true)
  [ "$got" = "$(elf_machine_of "$arch")" ] || { echo "busybox: ELF machine '${got:-none}'"; return 1; }
  kdirs=$(ls "$d/modules" 2>/dev/null | wc -l)
  [ "$kdirs" -eq 1 ] || { echo "modules: $kdirs kernel versions"; return 1; }
  live_check_modules "$arch" "$(live_modules_dir "$d")" || return 1
}

total=0
for arch in amd64 arm64 riscv64 loongarch64; do
  d=$CACHE/live/$arch
  if why=$(check_arch "$arch"); then
    echo "fetch-live: $arch: present ($(tr '\n' ' ' <"$d/packages"))"
    continue
  fi
  echo "fetch-live: $arch: fetching ($why)"
  suite=$(suite_of "$arch")
  apt_opts "$suite" "$(deb_arch_of "$arch")"
  apt-get "${APT[@]}" update -qq
  kpkg=$(kernel_package_of "$(meta_of "$arch")")
  mapfile -t pkgs < <(kernel_file_packages "$kpkg")
  pkgs+=(busybox-static systemd-boot-efi)
  work=$CACHE/live-work-$arch
  rm -rf "$work" && mkdir -p "$work/root"
  (cd "$work" && apt-get "${APT[@]}" download -qq "${pkgs[@]}")
  # apt-get names files with URL-encoded versions (%2b for +): read the names from the .debs.
  : >"$work/packages"
  for deb in "$work"/*.deb; do
    total=$((total + $(stat -c %s "$deb")))
    echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)" >>"$work/packages"
    dpkg-deb -x "$deb" "$work/root"
    rm -f "$deb"
  done
  r=$work/root
  # Modules live in usr/lib/modules (sid, merged /usr) or lib/modules (trixie's kernel packages).
  mdir=$(shopt -s nullglob; for m in "$r"/usr/lib/modules/* "$r"/lib/modules/*; do echo "$m"; break; done)
  [ -n "$mdir" ] || { echo "fetch-live: $arch: no modules directory in ${pkgs[*]}" >&2; exit 1; }
  kver=${mdir##*/}
  # The kernel: usr/lib/modules/<kver>/vmlinuz (sid) or boot/vmlinu[xz]-<kver> (trixie).
  kfile=$mdir/vmlinuz
  [ -f "$kfile" ] || kfile=$(ls "$r"/boot/vmlinu[xz]-"$kver")
  new=$CACHE/live/.new-$arch
  rm -rf "$new" && mkdir -p "$new/modules"
  kernel_pe "$kfile" "$new/vmlinuz"
  rm -f "$mdir/vmlinuz"
  mv "$mdir" "$new/modules/$kver"
  cp "$r/usr/lib/systemd/boot/efi/systemd-boot$(efi_arch_of "$arch").efi" "$new/"
  cp "$r/bin/busybox" "$new/busybox" 2>/dev/null || cp "$r/usr/bin/busybox" "$new/busybox"
  mv "$work/packages" "$new/packages"
  rm -rf "$d" "$work" && mv "$new" "$d"
  if ! why=$(check_arch "$arch"); then
    echo "fetch-live: $arch: fetched files fail their check: $why" >&2
    exit 1
  fi
  echo "fetch-live: $arch: $(tr '\n' ' ' <"$d/packages")"
done
[ "$total" -eq 0 ] || echo "fetch-live: downloaded $(human "$total") of packages"
