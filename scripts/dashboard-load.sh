#!/usr/bin/env bash
# Measures udm-dashboard under load: a private udmd with N volumes (default
# 100), fio traffic on ten of them, one suspended, and the dashboard under
# Xvfb watching every 100 ms with a busy volume's charts open. Prints the
# dashboard's CPU time and RSS over a window of S seconds (default 60).
# Usage: scripts/dashboard-load.sh [VOLUMES] [SECONDS]   (BUILD=dir, default build)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
secs=${2:-60}
build=${BUILD:-build}
udmd=$build/daemon/udmd
udmsetup=$build/daemon/control/udmsetup
dash=$PWD/$build/gui/udm-dashboard
for b in "$udmd" "$udmsetup" "$dash"; do
  [[ -x $b ]] || { echo "dashboard-load: $b is not built (ninja -C $build udmd udmsetup udm-dashboard)" >&2; exit 1; }
done

dir=$(mktemp -d /var/tmp/udm-dash-load.XXXXXX)
sock=$dir/state/udm.sock
mkdir -p "$dir/state" "$dir/mnt" "$dir/img"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  umount -l "$dir/mnt" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

"$udmd" --state-dir "$dir/state" --mount "$dir/mnt" --foreground >"$dir/udmd.log" 2>&1 &
udmd_pid=$!
pids+=("$udmd_pid")
for _ in $(seq 100); do "$udmsetup" --socket "$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
u() { "$udmsetup" --socket "$sock" "$@"; }
for i in $(seq -f %03g 0 $((n - 1))); do
  truncate -s 64M "$dir/img/v$i.img"
  u create "v$i" --table "0 131072 linear $dir/img/v$i.img 0" >/dev/null
done
for i in $(seq -f %03g 0 9); do
  fio --name="v$i" --filename="$dir/mnt/v$i" --rw=randrw --bs=4k --size=32M --time_based \
    --runtime=$((secs + 30)) --rate_iops=200 --fsync=16 --ioengine=psync >/dev/null 2>&1 &
  pids+=("$!")
done
u suspend "v$(printf %03d $((n - 1)))"

tag=$dir/load.png
xvfb-run -a "$dash" --socket "$sock" --interval-ms 100 --select v000 \
  --screenshot "$tag" --after $((secs + 10)) >"$dir/dash.log" 2>&1 &
pids+=("$!")
dash_pid=""
for _ in $(seq 100); do
  dash_pid=$(pgrep -f -- "--screenshot $tag" | while read -r p; do
    if [[ $(readlink "/proc/$p/exe" || true) == "$dash" ]]; then echo "$p"; fi; done | head -1 || true)
  [[ -n $dash_pid ]] && break
  sleep 0.1
done
[[ -n $dash_pid ]] || { echo "dashboard-load: udm-dashboard did not start" >&2; cat "$dir/dash.log" >&2; exit 1; }
tck=$(getconf CLK_TCK)
sample() {  # cpu ticks (user+system) and RSS in KiB of the dashboard
  local stat; stat=$(cat "/proc/$dash_pid/stat")
  stat=${stat##*) }
  read -r -a f <<<"$stat"
  echo "$((f[11] + f[12])) $(awk '/VmRSS/ {print $2}' "/proc/$dash_pid/status")"
}
sleep 5
read -r t0 rss0 < <(sample)
sleep "$secs"
read -r t1 rss1 < <(sample)
cpu=$(awk -v t="$((t1 - t0))" -v h="$tck" 'BEGIN { printf "%.2f", t / h }')
pct=$(awk -v c="$cpu" -v s="$secs" 'BEGIN { printf "%.1f", 100 * c / s }')
echo "udm-dashboard, $n volumes, 100 ms watch interval, ${secs} s window:"
echo "  CPU ${cpu} s (${pct}% of one core); RSS ${rss0} KiB at start, ${rss1} KiB at end"
wait "${pids[-1]}" || { echo "dashboard-load: udm-dashboard failed" >&2; cat "$dir/dash.log" >&2; exit 1; }
