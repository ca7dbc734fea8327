#!/usr/bin/env bash
# The Debian package as a user gets it: builds it (`--target package`) in
# BUILD_DIR (default build), checks its control fields and contents, runs
# the unpacked udmd and udmsetup (a real daemon, mount and volume), and
# verifies the systemd units with systemd-analyze against the unpacked
# files. Needs root (FUSE mount, a private mount namespace); nothing is
# installed on the machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}

fail() { echo "package_test: FAIL: $*" >&2; exit 1; }
step() { echo "package_test: $*"; }

cmake --build "$build" --target package >"$build/package.log" 2>&1 ||
  { tail -20 "$build/package.log"; fail "cmake --build $build --target package"; }
debs=("$build"/udm_*.deb)
((${#debs[@]} == 1)) && [[ -f ${debs[0]} ]] || fail "expected one udm_*.deb in $build, got: ${debs[*]}"
deb=${debs[0]}
step "built $deb ($(stat -c %s "$deb") bytes)"

# Control fields: the library dependencies come from dpkg-shlibdeps.
field() { dpkg-deb -f "$deb" "$1"; }
depends=$(field Depends)
dep_names=$(tr ',|' '\n\n' <<<"$depends" | awk '{print $1}')
for dep in fuse3 libfuse3-3 libsqlite3-0 liburing2 libstdc++6; do
  grep -qxF "$dep" <<<"$dep_names" || fail "Depends lacks $dep: $depends"
done
for f in Maintainer Section Description Homepage Version Architecture; do
  [[ -n $(field "$f") ]] || fail "control field $f is empty"
done
step "Depends: $depends"

root=$(mktemp -d /tmp/udm-pkg-XXXXXX)
state=$(mktemp -d /tmp/udm-pkg-state-XXXXXX)
daemon_pid=""
cleanup() {
  [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null || true
  [[ -n $daemon_pid ]] && while kill -0 "$daemon_pid" 2>/dev/null; do sleep 0.1; done
  mountpoint -q "$state/volumes" && fusermount3 -u -z "$state/volumes" || true
  rm -rf "$root" "$state"
}
trap cleanup EXIT
dpkg-deb -x "$deb" "$root"

# Contents: binaries, man pages that render cleanly, units, schema; and
# what other components install (the dashboard) comes along when built.
for f in usr/bin/udmd usr/bin/udmsetup usr/share/man/man8/udmd.8.gz usr/share/man/man8/udmsetup.8.gz \
         usr/lib/systemd/system/udmd.service usr/lib/systemd/user/udmd.service \
         usr/share/udm/schema/0001_initial.sql; do
  [[ -s $root/$f ]] || fail "package lacks /$f"
done
for page in udmd udmsetup; do
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$root/usr/share/man/man8/$page.8.gz" 2>&1 >/dev/null)
  [[ -z $warnings ]] || fail "man $page: $warnings"
done
for program in udm-dashboard udm-crash; do  # built only with their options
  ninja -C "$build" -t query "$program" >/dev/null 2>&1 || continue
  [[ -x $root/usr/bin/$program ]] || fail "$program was built but is not packaged"
done
if [[ -e $root/usr/bin/udm-dashboard && $depends != *libqt6* ]]; then
  fail "udm-dashboard is packaged but Depends names no Qt 6 library: $depends"
fi
for bin in "$root"/usr/bin/*; do
  missing=$(ldd "$bin" | grep 'not found' || true)
  [[ -z $missing ]] || fail "$bin: $missing"
done

# The unpacked programs: help, then a real daemon in the daemon's own
# (forking) mode, which returns once it serves, as the units rely on.
udmd=$root/usr/bin/udmd
udmsetup=$root/usr/bin/udmsetup
"$udmd" --help | grep -q -- "--state-dir" || fail "udmd --help does not list --state-dir"
"$udmsetup" help | grep -q "create NAME" || fail "udmsetup help does not list create"
"$udmd" --state-dir "$state" --mount "$state/volumes" --socket "$state/udm.sock" ||
  fail "udmd did not start: $(cat "$state/udmd.log" 2>/dev/null)"
for p in /proc/[0-9]*; do
  [[ $(readlink "$p/exe" 2>/dev/null) == "$udmd" ]] && daemon_pid=${p#/proc/}
done
[[ -n $daemon_pid ]] || fail "no udmd process running from $udmd after it returned"
export UDM_SOCKET=$state/udm.sock
version=$("$udmsetup" version) || fail "udmsetup version failed"
grep -q "0\.1\|[0-9]\.[0-9]" <<<"$version" || fail "udmsetup version printed: $version"
"$udmsetup" create pkgvol --table "0 64 zero" || fail "udmsetup create failed"
[[ $(head -c 32768 "$state/volumes/pkgvol" | tr -d '\0' | wc -c) == 0 ]] ||
  fail "the zero volume's file does not read zeroes"
[[ $(stat -c %s "$state/volumes/pkgvol") == 32768 ]] || fail "volume file size is not 64 sectors"
"$udmsetup" remove pkgvol || fail "udmsetup remove failed"
kill -TERM "$daemon_pid"
while kill -0 "$daemon_pid" 2>/dev/null; do sleep 0.1; done
daemon_pid=""
! mountpoint -q "$state/volumes" || fail "udmd left $state/volumes mounted after SIGTERM"
step "udmd and udmsetup from the package: $(head -1 <<<"$version" | tr -s ' ')"

# The units, verified with the package's files in place: /usr of a private
# mount namespace is the package over the system's /usr (so ExecStart= and
# Documentation=man: must resolve). systemd-analyze verify warns without
# failing, so any output at all is a failure. It needs no running systemd.
verify_out=$(unshare -m --propagation private bash -c '
  mount -t overlay overlay -o lowerdir="$1/usr:/usr" /usr || exit 99
  systemd-analyze verify /usr/lib/systemd/system/udmd.service 2>&1
  XDG_RUNTIME_DIR=$(mktemp -d) systemd-analyze --user verify /usr/lib/systemd/user/udmd.service 2>&1
' _ "$root") || fail "systemd-analyze verify (status $?): $verify_out"
[[ -z $verify_out ]] || fail "systemd-analyze verify: $verify_out"
grep -q -- "--socket /run/udm/udm.sock" "$root/usr/lib/systemd/system/udmd.service" ||
  fail "the system unit's socket is not the one udmsetup falls back to (/run/udm/udm.sock)"
step "systemd units verify cleanly"
echo "package_test: OK"
