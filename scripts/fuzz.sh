#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang in build-fuzz and runs
# each for a bounded time, starting from its seed corpus. Fails when any
# fuzzer finds a crash, a leak, a timeout or a sanitizer report; the input
# that did it is kept in build-fuzz/fuzz-artifacts/ (add it to
# tests/fuzz/corpus/<fuzzer>/ once fixed, as a regression input).
#   UDM_FUZZ_SECONDS  time per fuzzer (default 60)
#   UDM_FUZZ_CXX      the clang++ to build with (default clang++-16)
#   scripts/fuzz.sh [FUZZER...]   only these (default: every fuzzer)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${UDM_FUZZ_SECONDS:-60}
cxx=${UDM_FUZZ_CXX:-clang++-16}
dir=build-fuzz
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

# -O1 with line tables, as libFuzzer's documentation builds its targets:
# half the compile time of -O2 -g, and crash reports keep file and line.
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
  -DUDM_BUILD_FUZZ=ON -DUDM_BUILD_TESTS=OFF -DUDM_BUILD_BENCH=OFF -DUDM_BUILD_GUI=OFF \
  "${launcher[@]}" >/dev/null
ninja -C "$dir" -j2 udm_fuzzers

fuzzers=("$@")
if ((${#fuzzers[@]} == 0)); then
  for f in "$dir"/tests/fuzz/fuzz_*; do
    [[ -x $f && -f $f ]] && fuzzers+=("$(basename "$f")")
  done
fi

artifacts="$dir/fuzz-artifacts"
mkdir -p "$artifacts"
failed=()
for f in "${fuzzers[@]}"; do
  seeds="tests/fuzz/corpus/$f"
  work="$dir/fuzz-corpus/$f"  # new inputs go here, never into the source tree
  mkdir -p "$work" "$seeds"
  echo "== fuzz $f for ${seconds}s"
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     "$dir/tests/fuzz/$f" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -dict=tests/fuzz/udm.dict -artifact_prefix="$artifacts/$f-" -print_final_stats=1 \
       "$work" "$seeds" >"$dir/fuzz-$f.log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$dir/fuzz-$f.log" | tr '\n' ' '
    echo
  else
    echo "FAILED: $f (log $dir/fuzz-$f.log; input in $artifacts/)"
    grep -E "ERROR:|runtime error:|fuzz check failed|SUMMARY:|Test unit written" "$dir/fuzz-$f.log" | head -20
    failed+=("$f")
  fi
done
if ((${#failed[@]})); then
  echo "fuzzers that failed: ${failed[*]}"
  exit 1
fi
