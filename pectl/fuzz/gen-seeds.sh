#!/usr/bin/env bash
# Regenerates the seed corpora (corpus/<target>/) from real compiler output: clang-19 objects for
# the four machines linked by pectl (a few KiB each). The outputs are committed; run this only when
# the seed program or the linker's output format changes.
#
#   corpus/pe_reader/ and corpus/iso_input/   <arch>.efi
#   corpus/uki/                               2-byte stub length, the amd64/arm64 stub, a "kernel"
#   corpus/authenticode/                      <arch>.efi signed by pectl sign (sign/tests/keys)
set -euo pipefail
cd "$(dirname "$0")"
PECTL=${PECTL:-../../target/debug/pectl}
CFLAGS="-ffreestanding -fno-stack-protector -fno-builtin -nostdlib -O1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf corpus/pe_reader corpus/iso_input corpus/uki corpus/authenticode
mkdir -p corpus/pe_reader corpus/iso_input corpus/uki corpus/authenticode
for spec in amd64:x86_64-unknown-elf:-fpie arm64:aarch64-unknown-elf:-fpie \
  riscv64:riscv64-unknown-elf:-mcmodel=medany loongarch64:loongarch64-unknown-elf:-mno-lsx; do
  IFS=: read -r arch triple flag <<<"$spec"
  clang-19 -target "$triple" $CFLAGS "$flag" -c seeds/hello.c -o "$tmp/$arch.o"
  "$PECTL" link --machine "$arch" -o "$tmp/$arch.efi" "$tmp/$arch.o"
  cp "$tmp/$arch.efi" corpus/pe_reader/
  cp "$tmp/$arch.efi" corpus/iso_input/
  SOURCE_DATE_EPOCH=1700000000 "$PECTL" sign --key ../../sign/tests/keys/rsa2048.pkcs1.pem \
    --cert ../../sign/tests/keys/rsa2048.crt -o "corpus/authenticode/$arch.efi" "$tmp/$arch.efi"
done
# uki: the same image as stub and as kernel (machines match), the split in front.
for arch in amd64 arm64; do
  f=$tmp/$arch.efi
  python3 -c 'import os,sys; sys.stdout.buffer.write(os.path.getsize(sys.argv[1]).to_bytes(2,"little"))' "$f" >"corpus/uki/$arch"
  cat "$f" "$f" >>"corpus/uki/$arch"
done
ls -l corpus/*/
