#!/usr/bin/env bash
# Builds the peln UKI stub for one arch: the Rust staticlib (stub/) and the arch shim
# (arch-shims/<arch>.S), copied to <outdir>/libpeln_stub.a and <outdir>/shim.o.
#
#   stub/build.sh <amd64|arm64|riscv64|loongarch64> <outdir>
#   pectl link --machine <arch> --entry efi_main -o <outdir>/stub.efi <outdir>/shim.o <outdir>/libpeln_stub.a
#
# This script is the one place that knows the compile commands (tests and the Taskfile call it).
# Environment: CARGO (default cargo), CLANG (default clang-19), CARGO_TARGET_DIR (default
# stub/target). loongarch64 builds core with -Zbuild-std (needs rustup's rust-src component).
set -euo pipefail

usage() { echo "usage: $0 <amd64|arm64|riscv64|loongarch64> <outdir>" >&2; exit 2; }
[ $# -eq 2 ] || usage
arch=$1 out=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")

build_std=()
case $arch in
  amd64)
    target=x86_64-unknown-uefi
    cflags=(--target=x86_64-windows-msvc) ;;
  arm64)
    target=aarch64-unknown-uefi
    cflags=(--target=aarch64-windows-msvc) ;;
  riscv64)
    target=riscv64gc-unknown-none-elf
    cflags=(--target=riscv64-unknown-elf -march=rv64gc -mabi=lp64d) ;;
  loongarch64)
    # rustup has no prebuilt core for this target: build it (and the mem* functions) from rust-src.
    # One codegen unit per builtin, as the prebuilt sysroots have: otherwise the archive holds a
    # single compiler_builtins object and the link takes all of it (~100 KiB) for memcpy.
    target=loongarch64-unknown-none
    cflags=(--target=loongarch64-unknown-elf)
    build_std=(-Zbuild-std=core,compiler_builtins -Zbuild-std-features=compiler-builtins-mem
      --config 'profile.release.package.compiler_builtins.codegen-units=10000')
    export RUSTC_BOOTSTRAP=1 ;;
  *) usage ;;
esac

target_dir=${CARGO_TARGET_DIR:-$here/target}
mkdir -p "$out"
"${CARGO:-cargo}" build --manifest-path "$here/Cargo.toml" --locked --release \
  --target "$target" --target-dir "$target_dir" "${build_std[@]}"
"${CLANG:-clang-19}" "${cflags[@]}" -c "$root/arch-shims/$arch.S" -o "$out/shim.o"
cp "$target_dir/$target/release/libpeln_stub.a" "$out/libpeln_stub.a"
