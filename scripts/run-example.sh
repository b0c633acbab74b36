#!/usr/bin/env bash
# The main job, end to end: install the environment, build pectl, compile the bundled self-checking
# C program (tests/programs/c) for amd64 with clang-19 as COFF, link it with `pectl link`, and boot
# it in QEMU with OVMF (edk2). Prints the serial console; exits 0 only if the program reports PASS.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup-test-env.sh"
FW=${PELN_FW_DIR:-$HOME/.cache/peln/fw}/usr/share

cargo build --release --locked -q -p pectl --manifest-path "$top/Cargo.toml"
pectl="$top/target/release/pectl"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

src="$top/tests/programs/c"
flags=(-target x86_64-pc-windows-msvc -ffreestanding -fno-stack-protector -fno-builtin -mno-stack-arg-probe -O2)
for f in main ext strong weak support lib_func lib_helper lib_unused; do
  clang-19 "${flags[@]}" -c "$src/$f.c" -o "$work/$f.obj"
done
llvm-ar-19 rcs "$work/libpeln.lib" "$work"/lib_*.obj
mkdir -p "$work/esp/EFI/BOOT"
"$pectl" link --machine amd64 -o "$work/esp/EFI/BOOT/BOOTX64.EFI" --map "$work/BOOTX64.map" \
  "$work"/{main,ext,strong,weak,support}.obj -L "$work" -l peln
"$pectl" inspect "$work/esp/EFI/BOOT/BOOTX64.EFI" | sed -n '1,12p'

cp "$FW/OVMF/OVMF_VARS_4M.fd" "$work/vars.fd"
timeout 120 qemu-system-x86_64 -machine q35,accel=tcg -m 512 -smp 1 -nographic -nic none -no-reboot \
  -boot menu=on,splash-time=0 \
  -drive if=pflash,format=raw,unit=0,readonly=on,file="$FW/OVMF/OVMF_CODE_4M.fd" \
  -drive if=pflash,format=raw,unit=1,file="$work/vars.fd" \
  -drive if=none,id=esp,format=raw,readonly=on,file=fat:"$work/esp" -device virtio-blk-pci,drive=esp \
  </dev/null | tr -d '\r' | tee "$work/serial.log" | grep -a '^PELN' || true
grep -q 'PELN RESULT: PASS' "$work/serial.log"
