#!/usr/bin/env bash
# Runs the libFuzzer targets built in build-asan/ (make fuzz, and make test's short run).
#   scripts/fuzz.sh SECONDS [NAME...]      NAME: phoenix, json, ... (default: every target)
#                                          SECONDS 0: each target over its seeds only
# Each target first runs every input of its seed corpus (tests/fuzz/corpus/NAME/: the
# seeds and the inputs of bugs found so far, so each is a regression test), then fuzzes
# for SECONDS from the seeds and from what earlier runs found (build-asan/fuzz/corpus/,
# not committed). A crash, a sanitizer report or a broken property stops with its input
# saved under build-asan/fuzz/artifacts/ and a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [NAME...]}
shift
build=${FUZZ_BUILD_DIR:-build-asan}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for bin in "$build"/fuzz_*; do
    [ -x "$bin" ] && names+=("${bin##*/fuzz_}")
  done
fi
[ ${#names[@]} -gt 0 ] || { echo "no fuzz targets in $build (make fuzz builds them)" >&2; exit 1; }
mkdir -p "$build/fuzz/artifacts"
for name in "${names[@]}"; do
  bin="$build/fuzz_$name"
  seeds="tests/fuzz/corpus/$name"
  work="$build/fuzz/corpus/$name"
  mkdir -p "$work"
  echo "== fuzz_$name: the $(ls "$seeds" | wc -l) seeds, then ${seconds}s" >&2
  "$bin" -runs=0 -artifact_prefix="$build/fuzz/artifacts/$name-" "$seeds" 2>"$build/fuzz/$name-seeds.log" || { cat "$build/fuzz/$name-seeds.log" >&2; exit 1; }
  [ "$seconds" -gt 0 ] || continue  # 0: the seeds only (libFuzzer's 0 would mean no limit)
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz/artifacts/$name-" "$work" "$seeds" 2>"$build/fuzz/$name.log" ||
    { tail -60 "$build/fuzz/$name.log" >&2; exit 1; }
  grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$build/fuzz/$name.log" | tr '\n' ' ' >&2
  echo >&2
done
