#!/usr/bin/env bash
# Installs what is missing, builds udm and runs it. Until the daemon lands
# this runs the engine benchmark over null devices: 4 KiB requests through
# linear and striped tables, and the cost of flushes and ordered barriers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j2 udm_engine_bench
exec build/bench/udm_engine_bench "$@"
