#!/usr/bin/env bash
# Installs what is missing, builds udm, starts udmd on the default state
# directory (unless it is already running) and creates a demo volume over
# two sparse image files if there is none. Prints where the volume file is
# and how to put a filesystem on it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j2 udmd udmsetup

udmd=$PWD/build/daemon/udmd
udmsetup=$PWD/build/daemon/control/udmsetup
state=${XDG_STATE_HOME:-$HOME/.local/state}/udm
mount=$state/volumes

uring_param=/sys/module/fuse/parameters/enable_uring
if [[ -r $uring_param && $(cat "$uring_param") != Y ]]; then
  echo "udm: FUSE over io_uring is off in this kernel; udmd serves through /dev/fuse."
  echo "     'echo Y > $uring_param' before starting udmd makes volume files faster"
  echo "     (docs/fuse-transport.md)."
fi
if ! "$udmsetup" version >/dev/null 2>&1; then
  echo "udm: starting udmd (state in $state, volume files in $mount)"
  "$udmd" --state-dir "$state" --mount "$mount"
fi
if ! "$udmsetup" info demo >/dev/null 2>&1; then
  mkdir -p "$state/images"
  truncate -s 256M "$state/images/demo-a.img" "$state/images/demo-b.img"
  "$udmsetup" create demo --table "0 524288 linear $state/images/demo-a.img 0
524288 524288 linear $state/images/demo-b.img 0"
fi
"$udmsetup" info demo
"$udmsetup" table demo
cat <<EOT
The volume is the file $mount/demo (512 MiB over two image files).
Put a filesystem on it:
  dev=\$(losetup -f --show $mount/demo)
  mkfs.ext4 \$dev && mkdir -p /mnt/demo && mount \$dev /mnt/demo
Watch it:    $udmsetup stats demo
Reshape it:  $udmsetup suspend demo; $udmsetup load demo FILE; $udmsetup resume demo
Stop udmd:   kill \$(pidof udmd)
EOT
