# Shared by fetch-kernels.sh and fetch-live.sh (sourced, not run): apt with private lists for
# one Debian suite and one architecture, package resolution from the index, and the checks the
# fetched files must pass. Nothing here installs a package: .debs are downloaded and unpacked.
#
# The caller sets CACHE (the peln cache dir) and MIRROR before using these.

# Prints the PE Machine of $1 as 4 lowercase hex digits, or fails when $1 is not MZ + PE.
pe_machine() {
  local f=$1 off sig m
  [ -f "$f" ] && [ "$(head -c 2 "$f")" = MZ ] || return 1
  off=$(od -An -tu4 -j 60 -N 4 "$f" | tr -d ' ')
  sig=$(od -An -tx1 -j "$off" -N 4 "$f" | tr -d ' ')
  [ "$sig" = 50450000 ] || return 1
  m=$(od -An -tx1 -j $((off + 4)) -N 2 "$f" | tr -d ' ')
  echo "${m:2:2}${m:0:2}"
}

# PE Machine (hex, as pe_machine prints it) of a peln arch name.
machine_of() {
  case $1 in amd64) echo 8664 ;; arm64) echo aa64 ;; riscv64) echo 5064 ;; loongarch64) echo 6264 ;; esac
}

# Prints the ELF e_machine of $1 in decimal, or fails when $1 is not a 64-bit little-endian ELF.
elf_machine() {
  local f=$1
  [ -f "$f" ] && [ "$(od -An -tx1 -N 6 "$f" | tr -d ' ')" = 7f454c460201 ] || return 1
  od -An -tu2 -j 18 -N 2 "$f" | tr -d ' '
}

# ELF e_machine of a peln arch name (EM_X86_64, EM_AARCH64, EM_RISCV, EM_LOONGARCH).
elf_machine_of() {
  case $1 in amd64) echo 62 ;; arm64) echo 183 ;; riscv64) echo 243 ;; loongarch64) echo 258 ;; esac
}

# The kernel metapackage of an arch: the smallest flavour that boots QEMU with a serial console
# (Debian's cloud flavour where there is one, the generic flavour elsewhere).
meta_of() {
  case $1 in
    amd64 | arm64) echo "linux-image-cloud-$1" ;;
    riscv64) echo linux-image-riscv64 ;;
    loongarch64) echo linux-image-loong64 ;;
  esac
}

# Debian's name of a peln arch, and the suite its kernel comes from: loong64 is a regular
# architecture only in sid; the others use trixie.
deb_arch_of() { case $1 in loongarch64) echo loong64 ;; *) echo "$1" ;; esac; }
suite_of() { case $1 in loongarch64) echo sid ;; *) echo trixie ;; esac; }

human() { numfmt --to=iec-i --suffix=B "$1" 2>/dev/null || echo "$1 bytes"; }

# apt_opts SUITE DEBARCH: sets APT to the options of apt-get/apt-cache for SUITE with DEBARCH as
# the only (and native) architecture, with lists, status and cache in $CACHE/apt-SUITE-DEBARCH.
apt_opts() {
  local suite=$1 arch=$2 d=$CACHE/apt-$1-$2
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $suite main" >"$CACHE/$suite.list"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  [ -f "$d/status" ] || : >"$d/status"
  APT=(-o Dir::Etc::sourcelist="$CACHE/$suite.list" -o Dir::Etc::sourceparts=-
    -o Dir::State::Lists="$d/lists" -o Dir::State::status="$d/status"
    -o Dir::Cache="$d/cache" -o APT::Sandbox::User=root
    -o APT::Architecture="$arch" -o APT::Architectures="$arch"
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false)
}

# Fields of one package stanza from a Packages file: field_of FILE PACKAGE FIELD
field_of() {
  awk -v p="$2" -v f="$3:" '$1 == "Package:" { cur = ($2 == p) } cur && $1 == f { sub(/^[^:]*: /, ""); print; exit }' "$1"
}

# True when apt has a real (downloadable) candidate version of package $1, not just a virtual name.
has_candidate() {
  local c
  c=$(apt-cache "${APT[@]}" policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | head -n 1)
  [ -n "$c" ] && [ "$c" != "(none)" ]
}

# Candidate version of package $1.
version_of() {
  apt-cache "${APT[@]}" show --no-all-versions "$1" | sed -n 's/^Version: //p' | head -n 1
}

# Names of the packages package $1 depends on (first alternative of each, versions dropped).
depends_of() {
  apt-cache "${APT[@]}" show --no-all-versions "$1" | sed -n 's/^Depends: //p' | head -n 1 |
    tr ',' '\n' | sed 's/^ *//; s/[ |(].*//' | sed '/^$/d'
}

# The versioned kernel package a metapackage points to: its first `linux-image-<digit>…`
# dependency, or its `-unsigned` twin when that has a real candidate (a virtual-only `-unsigned`
# name, as on riscv64, cannot be downloaded).
kernel_package_of() {
  local dep
  dep=$(depends_of "$1" | grep -m 1 '^linux-image-[0-9]') || { echo "cannot resolve $1" >&2; return 1; }
  if has_candidate "$dep-unsigned"; then echo "$dep-unsigned"; else echo "$dep"; fi
}

# The packages that carry a versioned kernel package's files: sid splits the image (linux-binary-…)
# from its modules (linux-modules-…) and modules.builtin/config (linux-base-…); trixie's image
# package carries all of them itself.
kernel_file_packages() {
  local split
  split=$(depends_of "$1" | grep -E '^linux-(binary|modules|base)-[0-9]' || true)
  if [ -n "$split" ]; then echo "$split"; else echo "$1"; fi
}

# kernel_pe SRC OUT: the PE image of a Debian kernel file. amd64 ships a bzImage, loong64 an EFI
# zboot image (both PE already), arm64 and riscv64 a gzipped Image whose EFI stub is inside.
kernel_pe() {
  if [ "$(head -c 2 "$1" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then
    gzip -dc <"$1" >"$2"
  else
    cp "$1" "$2"
  fi
}
