#!/usr/bin/env bash
# Makes an edk2 variable store that trusts your own certificate: CERT.pem enrolled as PK, KEK and db,
# Secure Boot on. Boot it with the Secure Boot firmware build (OVMF_CODE_4M.secboot.fd on amd64,
# AAVMF_CODE.secboot.fd on arm64), e.g. `peln-boot amd64 cdrom:boot.iso --secure-boot OUT.fd`.
#
#   scripts/secureboot-vars.sh amd64|arm64 CERT.pem OUT.fd
#
# The empty template is Debian's (OVMF_VARS_4M.fd / AAVMF_VARS.fd, unpacked by setup-test-env.sh
# into $PELN_FW_DIR, default $PELN_CACHE_DIR/fw); the enrolling is done by virt-fw-vars (PyPI
# virt-firmware, installed by the setup script into $PELN_CACHE_DIR/virt-firmware). A key pair to
# go with it:
#   openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=my db key/" \
#     -keyout db.key -out db.pem
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 amd64|arm64 CERT.pem OUT.fd" >&2; exit 2; }
arch=$1 cert=$2 out=$3
CACHE=${PELN_CACHE_DIR:-$HOME/.cache/peln}
FW=${PELN_FW_DIR:-$CACHE/fw}
VIRT_FW_VARS=${VIRT_FW_VARS:-$CACHE/virt-firmware/bin/virt-fw-vars}
case $arch in
  amd64 | x86_64) template=$FW/usr/share/OVMF/OVMF_VARS_4M.fd ;;
  arm64 | aarch64) template=$FW/usr/share/AAVMF/AAVMF_VARS.fd ;;
  *) echo "$0: Debian's edk2 has Secure Boot only for amd64 and arm64, not $arch" >&2; exit 2 ;;
esac
for f in "$template" "$cert" "$VIRT_FW_VARS"; do
  [ -e "$f" ] || { echo "$0: $f missing (run scripts/setup-test-env.sh)" >&2; exit 1; }
done
# The owner GUID of each entry only labels who enrolled it; firmware does not check it.
owner=$(cat /proc/sys/kernel/random/uuid)
"$VIRT_FW_VARS" -i "$template" --set-pk "$owner" "$cert" --add-kek "$owner" "$cert" \
  --add-db "$owner" "$cert" --secure-boot -o "$out"
