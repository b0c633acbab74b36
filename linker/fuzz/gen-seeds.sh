#!/usr/bin/env bash
# Regenerates the fuzzers' valid companion objects (seeds/*.o) and seed corpora (corpus/*/) from
# clang-19 output. The outputs are committed; run this only when the sources change.
set -euo pipefail
cd "$(dirname "$0")"
S=seeds
CFLAGS="-ffreestanding -fno-stack-protector -fno-builtin -nostdlib -O1 -ffunction-sections -fdata-sections"
cc() { # name triple extra-flags...
  local name=$1 triple=$2; shift 2
  clang-19 -target "$triple" $CFLAGS "$@" -c $S/main.c -o $S/main-$name.o
  clang-19 -target "$triple" $CFLAGS -g "$@" -c $S/helper.c -o $S/helper-$name.o
}
cc amd64-coff x86_64-pc-windows-msvc -mno-red-zone -mno-stack-arg-probe
cc amd64-elf x86_64-unknown-elf -mno-red-zone -fpie
cc arm64-coff aarch64-pc-windows-msvc -mno-stack-arg-probe
cc arm64-elf aarch64-unknown-elf
cc riscv64-elf riscv64-unknown-elf -march=rv64gc -mabi=lp64d -mcmodel=medany -mrelax
cc loongarch64-elf loongarch64-unknown-elf -mno-lsx -mno-lasx
rm -f $S/*.a
llvm-ar-19 rc $S/helper-amd64-coff.a $S/helper-amd64-coff.o
llvm-ar-19 rcS $S/helper-amd64-coff-noindex.a $S/helper-amd64-coff.o
llvm-ar-19 rc $S/helper-amd64-elf.a $S/helper-amd64-elf.o
rm -rf corpus && mkdir -p corpus/{coff_object,elf_object,archive,link_amd64,link_arm64,link_riscv64,link_loongarch64}
cp $S/*-coff.o corpus/coff_object/
cp $S/*-elf.o corpus/elf_object/
cp $S/*.a corpus/archive/
for m in amd64 arm64 riscv64 loongarch64; do cp $S/helper-$m-*.o corpus/link_$m/; done
