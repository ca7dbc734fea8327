#!/usr/bin/env bash
# Installs the Debian 12 packages udm needs to build, test and run, skipping
# the apt round trip when everything is already there. Run as root.
#   scripts/install-deps.sh [--bench]
# --bench adds what bench/fuse_bench.py runs against and draws with: the
# peers (qemu-storage-daemon, nbdkit + nbdfuse) and matplotlib.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  liburing-dev libfmt-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libfuse3-dev fuse3 libsqlite3-dev sqlite3 nlohmann-json3-dev libcli11-dev
  util-linux e2fsprogs xfsprogs fio
  qt6-base-dev qt6-charts-dev xvfb xauth
  dpkg-dev fakeroot file systemd
  clang-16 libclang-rt-16-dev man-db
)
for arg in "$@"; do
  case $arg in
    --bench) packages+=(qemu-system-common nbdkit libnbd-bin python3-matplotlib) ;;
    *) echo "install-deps.sh: unknown argument '$arg' (the only one is --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "udm: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" </dev/null
fi
