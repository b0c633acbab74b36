#!/usr/bin/env bash
# mkinitramfs.sh ARCH OUT.cpio — the initramfs of the UKI end-to-end boots (the single recipe: the
# test harness and the Taskfile both call this script).
#
# Compiles tests/programs/init/init.c (static, freestanding, raw syscalls) for ARCH (amd64, arm64,
# riscv64, loongarch64) with clang-19 and ld.lld-19, and writes a cpio "newc" archive holding
#   dev/   040755   proc/   040555   init   0100755   (uid/gid 0, mtime $SOURCE_DATE_EPOCH or 0)
# The archive is written here by hand (the format is a 110-byte ASCII header, the NUL-terminated
# name and the data, each padded to 4 bytes), so the same compiler gives the same bytes.
# Environment: CLANG (default clang-19), LD_LLD (default ld.lld-19), SOURCE_DATE_EPOCH.
set -euo pipefail

usage() { echo "usage: $0 amd64|arm64|riscv64|loongarch64 OUT.cpio" >&2; exit 2; }
[ $# -eq 2 ] || usage
arch=$1 out=$2
case $arch in
  amd64 | x86_64) triple=x86_64-linux-gnu ;;
  arm64 | aarch64) triple=aarch64-linux-gnu ;;
  riscv64) triple=riscv64-linux-gnu ;;
  loongarch64 | loong64) triple=loongarch64-linux-gnu ;;
  *) usage ;;
esac
CLANG=${CLANG:-clang-19}
LD_LLD=${LD_LLD:-ld.lld-19}
mtime=${SOURCE_DATE_EPOCH:-0}
src=$(cd "$(dirname "$0")/.." && pwd)/tests/programs/init/init.c

tmp=$(mktemp -d "${TMPDIR:-/tmp}/peln-initramfs-XXXXXX")
trap 'rm -rf "$tmp" "$out.tmp.$$"' EXIT

"$CLANG" --target="$triple" -static -nostdlib -ffreestanding -fno-stack-protector -fno-pic -O2 \
  -fno-asynchronous-unwind-tables -Wall -Wextra -Werror -c "$src" -o "$tmp/init.o"
"$LD_LLD" -static -e _start --build-id=none -z noexecstack --strip-all -o "$tmp/init" "$tmp/init.o"

pad4() { # writes NULs up to the next multiple of 4 after $1 bytes
  local n=$(((4 - $1 % 4) % 4))
  [ "$n" -eq 0 ] || head -c "$n" /dev/zero
}

# entry INO MODE NLINK NAME [FILE]
entry() {
  local ino=$1 mode=$2 nlink=$3 name=$4 file=${5:-} size=0
  [ -z "$file" ] || size=$(stat -c %s "$file")
  printf '070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x' \
    "$ino" "$mode" 0 0 "$nlink" "$mtime" "$size" 0 0 0 0 $((${#name} + 1)) 0
  printf '%s\0' "$name"
  pad4 $((110 + ${#name} + 1))
  if [ -n "$file" ]; then
    cat "$file"
    pad4 "$size"
  fi
}

mkdir -p "$(dirname "$out")"
{
  entry 1 $((0040755)) 2 dev
  entry 2 $((0100755)) 1 init "$tmp/init"
  entry 3 $((0040555)) 2 proc
  entry 0 0 1 'TRAILER!!!'
} >"$out.tmp.$$"
mv "$out.tmp.$$" "$out"
