# Shared by fetch-live.sh (which checks a fetched modules tree), mklive.sh (which puts the modules
# into the live initramfs) and mkdracut.sh, sourced: which kernel modules a live initramfs needs, in
# what order they load, and how a boot-files tar is made. The caller sets CACHE.

# What the live initramfs needs that Debian builds as modules (each is either built in or a .ko):
# the CD/disk drivers of QEMU's media (virtio-scsi CD, virtio-blk disk, and the q35 AHCI CD on
# amd64), iso9660, loop + squashfs for the live image, overlayfs for the writable root, efivarfs
# for the boot loader's variables. Their own dependencies (scsi_mod, libata, …) follow from each
# module's `depends=`.
live_modules() {
  echo virtio_pci virtio_blk virtio_scsi sr_mod cdrom isofs loop squashfs overlay efivarfs
  [ "$1" != amd64 ] || echo ahci
}

# The one <kver> directory under DIR/modules.
live_modules_dir() {
  local d
  for d in "$1"/modules/*; do echo "$d"; return 0; done
  return 1
}

# Module file names may spell '_' as '-'.
_mod_glob() { echo "$1" | sed 's/[-_]/[-_]/g'; }

# live_module_file MDIR NAME: the module's file relative to MDIR, or nothing when built in; fails
# when it is neither.
live_module_file() {
  local mdir=$1 g f
  g=$(_mod_glob "$2")
  if grep -qE "/${g}\.ko\$" "$mdir/modules.builtin" 2>/dev/null; then return 0; fi
  f=$(cd "$mdir" && find kernel -name "$g.ko" -o -name "$g.ko.xz" -o -name "$g.ko.zst" -o -name "$g.ko.gz" | sort | head -n 1)
  [ -n "$f" ] || return 1
  echo "$f"
}

# Prints a module file uncompressed (Debian compresses modules with xz, sid with zstd): the
# initramfs's busybox insmod loads plain ELF objects.
live_module_cat() {
  case $1 in
    *.xz) xz -dc "$1" ;;
    *.zst) zstd -qdc "$1" ;;
    *.gz) gzip -dc "$1" ;;
    *) cat "$1" ;;
  esac
}

# live_boot_tar ARCH INITRAMFS OUT: a build-iso boot-files tar with the cached kernel and
# systemd-boot of ARCH and INITRAMFS: usr/lib/modules/<kver>/{vmlinuz,initramfs.img} and
# usr/lib/systemd/boot/efi/systemd-boot<efi>.efi; sorted, owners 0:0, mtimes $SOURCE_DATE_EPOCH.
live_boot_tar() {
  local arch=$1 src=$CACHE/live/$1 efi mdir kver bt
  case $arch in amd64) efi=x64 ;; arm64) efi=aa64 ;; *) efi=$arch ;; esac
  mdir=$(live_modules_dir "$src")
  kver=${mdir##*/}
  bt=$(mktemp -d "${TMPDIR:-/tmp}/peln-boot-tar-XXXXXX")
  mkdir -p "$bt/usr/lib/modules/$kver" "$bt/usr/lib/systemd/boot/efi"
  cp "$src/vmlinuz" "$bt/usr/lib/modules/$kver/vmlinuz"
  cp "$2" "$bt/usr/lib/modules/$kver/initramfs.img"
  cp "$src/systemd-boot$efi.efi" "$bt/usr/lib/systemd/boot/efi/"
  tar -C "$bt" --sort=name --mtime="@${SOURCE_DATE_EPOCH:-0}" --owner=0 --group=0 --numeric-owner \
    -cf "$3" usr
  rm -rf "$bt"
}

# live_check_modules ARCH MDIR: every module of live_modules is in MDIR or built in.
live_check_modules() {
  local m missing=()
  for m in $(live_modules "$1"); do
    live_module_file "$2" "$m" >/dev/null || missing+=("$m")
  done
  [ ${#missing[@]} -eq 0 ] || { echo "modules missing from $2: ${missing[*]}"; return 1; }
}

# live_module_order ARCH MDIR: the module files to load, dependencies first, each once.
live_module_order() {
  local mdir=$2 m
  declare -A seen=()
  visit() {
    local name=$1 f deps d
    name=${name//-/_}
    [ -z "${seen[$name]:-}" ] || return 0
    seen[$name]=1
    f=$(live_module_file "$mdir" "$name") || { echo "mklive: module $name not found in $mdir" >&2; return 1; }
    [ -n "$f" ] || return 0 # built in
    deps=$(live_module_cat "$mdir/$f" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1)
    for d in ${deps//,/ }; do visit "$d"; done
    echo "$f"
  }
  for m in $(live_modules "$1"); do visit "$m"; done
}
