#!/usr/bin/env bash
# bench/isolated.sh: `create` and `run` of /bin/true with ocikit, crun and
# runc, each after GAP seconds of quiet (default 0.15), as on a host that
# starts a container now and then rather than one after another. There the
# kernel's first cgroup migration after a quiet period waits for an RCU
# grace period (the rcu_sync of cgroup_threadgroup_rwsem, ~10 ms here; a
# migration within a grace period of another does not), which a
# back-to-back loop hides for whichever runtime follows another's
# migration closely enough. Interleaved, the order rotating each round;
# prints ms per container and the ratio to crun.
#
#   OCIKIT=bin/ocikit N=20 GAP=0.15 bash bench/isolated.sh
#   OCIKIT_BASE=bin/ocikit-main ...   # also a second ocikit build
#
# All run in one private mount namespace without the cgroup2 mount at
# /sys/fs/cgroup/unified (bench/lib/runtimes.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-20}
GAP=${GAP:-0.15}
. "$here/lib/runtimes.sh"
runtimes_init isolated

make_rootfs "$work/rootfs"
echo "$work/bundle" | make_configs "$work/rootfs" /bin/true

cat >"$work/loop.sh" <<SH
$loop_prelude
SH
cat >>"$work/loop.sh" <<'SH'
op=$1 n=$2 gap=$3; shift 3
declare -A total
for rt in "$@"; do
	mkdir -p "$STATE/$(name "$rt")"
	total[$rt]=0
done
for ((i = 0; i < n; i++)); do
	rotated "$i" "$@"
	for rt in "${order[@]}"; do
		root=$STATE/$(name "$rt")
		sleep "$gap"
		s=${EPOCHREALTIME/./}
		"$rt" --root "$root" "$op" "i$i" </dev/null >/dev/null || { echo "$rt $op failed" >&2; exit 1; }
		e=${EPOCHREALTIME/./}
		total[$rt]=$(( ${total[$rt]} + e - s ))
		"$rt" --root "$root" delete --force "i$i" >/dev/null 2>&1 || true
	done
done
for rt in "$@"; do echo "$(name "$rt") $(( ${total[$rt]} / n ))"; done
SH
cd "$work/bundle"
for op in create run; do
	STATE=$work/state unshare -m bash "$work/loop.sh" "$op" "$N" "$GAP" "${runtimes[@]}" |
		print_ratios "$op /bin/true after ${GAP} s of quiet, $N each" ms/container 1000
done
