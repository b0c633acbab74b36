#!/usr/bin/env bash
# Build time and peak RSS of cloud-boot-iso and build-iso for a payload over 4 GiB, beside `cp`,
# `cp` + `sync` (both binaries fsync their output) and `xorriso -as mkisofs` on the same payload.
# build-iso gets the payload as its x86_64 squashfs, with the boot-files tar of scripts/mklive.sh
# (needs scripts/fetch-live.sh's cache).
#
#   iso/bench.sh [SIZE_MIB] [sparse|dense]      (default: 4400 MiB, sparse)
#
# sparse: a file of holes with a few marker bytes (the >4 GiB test payload); cloud-boot-iso and
#         cp keep the holes, xorriso writes zeros.
# dense:  real data (a 64 MiB random chunk repeated), so every tool moves every byte.
# Runs are cold-ish only if the page cache is dropped between them, which needs root and is
# not done here: numbers show the relative cost, on this machine, as it is.
set -euo pipefail

SIZE_MIB=${1:-4400}
KIND=${2:-sparse}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FW=${PELN_FW_DIR:-$HOME/.cache/peln/fw}
UKI=$FW/usr/share/efi-shell-x64/shellx64.efi
TIME=/usr/bin/time

for t in xorriso cp; do command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/setup-test-env.sh)" >&2; exit 1; }; done
[ -x "$TIME" ] || { echo "bench: GNU time missing (apt-get install time)" >&2; exit 1; }
[ -f "$UKI" ] || { echo "bench: $UKI missing (scripts/setup-test-env.sh)" >&2; exit 1; }

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && cargo build -q --release -p cloud-boot-iso)
BIN=$CARGO_TARGET_DIR/release/cloud-boot-iso
BUILD_ISO=$CARGO_TARGET_DIR/release/build-iso

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cbi-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
"$ROOT/scripts/mklive.sh" amd64 "$WORK/live" bench
PAYLOAD=$WORK/payload.bin
case $KIND in
  sparse)
    truncate -s "${SIZE_MIB}M" "$PAYLOAD"
    printf 'hsqs' | dd of="$PAYLOAD" conv=notrunc status=none # build-iso checks squashfs magic
    printf 'TAIL' | dd of="$PAYLOAD" bs=1 seek=$((SIZE_MIB * 1048576 - 4)) conv=notrunc status=none
    ;;
  dense)
    head -c $((64 << 20)) /dev/urandom >"$WORK/chunk"
    : >"$PAYLOAD"
    for _ in $(seq 1 $(((SIZE_MIB + 63) / 64))); do cat "$WORK/chunk" >>"$PAYLOAD"; done
    truncate -s "${SIZE_MIB}M" "$PAYLOAD"
    printf 'hsqs' | dd of="$PAYLOAD" conv=notrunc status=none
    rm "$WORK/chunk"
    ;;
  *) echo "bench: kind must be sparse or dense" >&2; exit 2 ;;
esac
sync

row() { # name, output file, command...
  local name=$1 out=$2; shift 2
  rm -f "$out"
  sync # earlier rows' writeback must not land on this one
  local t
  t=$("$TIME" -f '%e %M' "$@" 2>&1 >/dev/null | tail -1)
  local secs=${t% *} rss_kib=${t#* }
  local alloc
  alloc=$(du -k "$out" | cut -f1)
  awk -v n="$name" -v s="$secs" -v r="$rss_kib" -v z="$(stat -c %s "$out")" -v a="$alloc" \
    'BEGIN { printf "%-24s %9.2f s %9.1f MiB %11.1f MiB %11.1f MiB\n", n, s, r / 1024, z / 1048576, a / 1024 }'
  rm -f "$out"
}

echo "payload: ${SIZE_MIB} MiB, $KIND ($(du -k "$PAYLOAD" | cut -f1) KiB allocated), $(nproc) cores"
printf '%-24s %11s %13s %15s %15s\n' tool time "peak RSS" "output size" "allocated"
row "cloud-boot-iso" "$WORK/a.iso" "$BIN" -q --uki "linux/amd64=$UKI" --add "payload.bin=$PAYLOAD" -o "$WORK/a.iso"
row "build-iso" "$WORK/b.iso" "$BUILD_ISO" -q --arch "x86_64:$WORK/live/boot.tar:$PAYLOAD" "$WORK/b.iso"
row "cp" "$WORK/copy.bin" cp "$PAYLOAD" "$WORK/copy.bin"
row "cp + sync" "$WORK/copy.bin" sh -c 'cp "$1" "$2" && sync "$2"' - "$PAYLOAD" "$WORK/copy.bin"
row "xorriso -as mkisofs" "$WORK/x.iso" xorriso -as mkisofs -quiet -R -J -iso-level 3 -o "$WORK/x.iso" \
  -graft-points "payload.bin=$PAYLOAD"
