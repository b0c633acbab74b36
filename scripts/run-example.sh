#!/usr/bin/env bash
# The main job, end to end: install the environment (toolchains, QEMU, edk2, Debian kernels, `task`),
# then `task e2e`: build the UKI stub for amd64, arm64, riscv64 and loongarch64 and link it with
# `pectl link`, pack UKIs with `pectl uki` (Debian kernels, sid's on loongarch64, + a tiny
# initramfs), merge them into one boot.iso with `cloud-boot-iso`, and boot every UKI from a FAT
# dir and boot.iso as a CD and as a disk under QEMU + edk2, checking what each guest prints.
# Outputs stay in ./build (PELN_BUILD_DIR overrides).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup-test-env.sh"
cd "$top"
task e2e
