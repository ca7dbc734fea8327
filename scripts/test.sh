#!/usr/bin/env bash
# Installs what is missing, builds udm and runs every test: the engine and
# target suites under ASan+UBSan and under TSan, then the whole CTest suite
# of the normal build (its summary is the last thing printed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=2
configure() {  # configure DIR [cmake args...]
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUDM_WERROR=ON "$@" >/dev/null
}

echo "== build (RelWithDebInfo, -Werror)"
configure build
ninja -C build -j"$jobs"

sanitized=(tests/core/udm_core_test tests/targets/udm_targets_test)
daemon_suites=(tests/daemon/udm_state_test tests/daemon/udm_control_test
               tests/daemon/udm_fuse_test tests/daemon/udm_daemon_test
               tests/targets/udm_targets_e2e_test)

echo "== engine, target and daemon tests under ASan+UBSan"
configure build-asan -DUDM_SANITIZE=address,undefined -DUDM_BUILD_BENCH=OFF
ninja -C build-asan -j"$jobs"
for t in "${sanitized[@]}" "${daemon_suites[@]}"; do
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "build-asan/$t" --gtest_brief=1
done

echo "== engine and target tests under TSan"
configure build-tsan -DUDM_SANITIZE=thread -DUDM_BUILD_BENCH=OFF
ninja -C build-tsan -j"$jobs" udm_core_test udm_targets_test
for t in "${sanitized[@]}"; do
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "build-tsan/$t" --gtest_brief=1
done

echo "== all tests (CTest)"
cd build
ctest --output-on-failure --timeout 600
