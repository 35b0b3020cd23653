#!/usr/bin/env bash
# bench/runtime.sh: N sequential `run` of /bin/true in a busybox bundle with
# ocikit, crun and runc, interleaved (ocikit, crun, runc, then crun, runc,
# ocikit, ...: the order rotates, see rotated) so that the load of a shared
# machine hits all alike; prints ms per container and the ratio to crun.
#
#   OCIKIT=bin/ocikit N=100 bash bench/runtime.sh
#   OCIKIT_BASE=bin/ocikit-main ...   # also a second ocikit build
#
# All run in one private mount namespace without the cgroup2 mount at
# /sys/fs/cgroup/unified (bench/lib/runtimes.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-100}
. "$here/lib/runtimes.sh"
runtimes_init runtime

make_rootfs "$work/rootfs"
echo "$work/bundle" | make_configs "$work/rootfs" /bin/true

cat >"$work/loop.sh" <<SH
$loop_prelude
SH
cat >>"$work/loop.sh" <<'SH'
n=$1; shift
for rt in "$@"; do mkdir -p "$STATE/$(name "$rt")"; done
one() { # one RUNTIME ID
	"$1" --root "$STATE/$(name "$1")" run "$2" >/dev/null || { echo "$1 run failed" >&2; return 1; }
}
timed_rounds "$n" one "$@"
SH
cd "$work/bundle"
STATE=$work/state unshare -m bash "$work/loop.sh" "$N" "${runtimes[@]}" |
	print_ratios "run /bin/true, $N runs each, sequential" ms/container 1000
