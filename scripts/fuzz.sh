#!/usr/bin/env bash
# fuzz.sh [SECONDS] — runs every cargo-fuzz target of pectl/fuzz and linker/fuzz for SECONDS each
# (default 20), one at a time (the machine has 2 cores), on a scratch copy of the committed seed
# corpus (corpus/<target>/ is never written). A directory that does not exist yet is skipped. A
# crash stops the run, leaving the input in <dir>/artifacts/<target>/: minimise it
# (`cargo +nightly fuzz tmin`), put it in <dir>/regressions/<target>/ and fix the bug; the
# regression tests replay that directory under plain `cargo test`.
#
# Long run (hours, e.g. before a release): FUZZ_JOBS=1 scripts/fuzz.sh 3600
# or one target directly:  cargo +nightly fuzz run --fuzz-dir pectl/fuzz pe_reader -- -max_total_time=14400
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
command -v cargo-fuzz >/dev/null || cargo fuzz --version >/dev/null 2>&1 || {
  echo "fuzz.sh: cargo-fuzz missing (scripts/setup-test-env.sh installs it)" >&2
  exit 1
}
work=$(mktemp -d "${TMPDIR:-/tmp}/peln-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
total=0
for dir in pectl/fuzz linker/fuzz; do
  if [ ! -f "$dir/Cargo.toml" ]; then
    echo "fuzz.sh: $dir does not exist yet: skipped"
    continue
  fi
  cargo +nightly fuzz build --fuzz-dir "$dir" -O 2>&1 | tail -n 2
  for target in $(cargo +nightly fuzz list --fuzz-dir "$dir"); do
    scratch=$work/${dir//\//_}-$target
    mkdir -p "$scratch"
    seeds=()
    [ -d "$dir/corpus/$target" ] && seeds+=("$dir/corpus/$target")
    [ -d "$dir/regressions/$target" ] && seeds+=("$dir/regressions/$target")
    echo "fuzz.sh: $dir $target for ${SECONDS_PER_TARGET}s"
    # -rss_limit_mb: an input that makes a tool allocate without bound is a finding too.
    cargo +nightly fuzz run --fuzz-dir "$dir" -O "$target" "$scratch" "${seeds[@]}" -- \
      -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -print_final_stats=1 2>"$scratch.log" || {
      tail -n 40 "$scratch.log" >&2
      echo "fuzz.sh: $dir $target FAILED: the input is in $dir/artifacts/$target/" >&2
      exit 1
    }
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch.log" | grep -o '[0-9]*$' || echo 0)
    echo "fuzz.sh: $dir $target: $runs executions, no crash"
    total=$((total + runs))
  done
done
echo "fuzz.sh: done, $total executions in all"
