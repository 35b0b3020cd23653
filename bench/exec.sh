#!/usr/bin/env bash
# bench/exec.sh: N sequential `exec ID /bin/true` into a running busybox
# container (sleep) with ocikit, crun and runc, interleaved in rounds of 10
# (ocikit, crun, runc, then crun, runc, ocikit, ...: the order rotates,
# see rotated in lib/runtimes.sh) so that the load of a shared machine
# hits all alike; prints ms per exec and the ratio to crun. Each runtime
# execs into its own container created from the same bundle.
#
#   OCIKIT=bin/ocikit N=50 bash bench/exec.sh
#   OCIKIT_BASE=bin/ocikit-main ...   # also a second ocikit build
#
# All run in one private mount namespace without the cgroup2 mount at
# /sys/fs/cgroup/unified (bench/lib/runtimes.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-50}
. "$here/lib/runtimes.sh"
runtimes_init exec

make_rootfs "$work/rootfs"
echo "$work/bundle" | make_configs "$work/rootfs" /bin/sleep 100000

cat >"$work/loop.sh" <<SH
$loop_prelude
SH
cat >>"$work/loop.sh" <<'SH'
n=$1; shift
cleanup() {
	for rt in "$@"; do "$rt" --root "$STATE/$(name "$rt")" delete --force "bench-$(name "$rt")" >/dev/null 2>&1; done
}
trap 'cleanup "$@"' EXIT
declare -A total
for rt in "$@"; do
	mkdir -p "$STATE/$(name "$rt")"
	"$rt" --root "$STATE/$(name "$rt")" run --detach "bench-$(name "$rt")" </dev/null >/dev/null || { echo "$rt run failed" >&2; exit 1; }
	"$rt" --root "$STATE/$(name "$rt")" exec "bench-$(name "$rt")" /bin/true || { echo "$rt exec failed" >&2; exit 1; }
	total[$rt]=0
done
# Rounds of 10 execs per runtime: a cgroup v1 migration costs an RCU grace
# period unless another migration ran just before (the kernel's rcu_sync
# of cgroup_threadgroup_rwsem), so one runtime's exec right after
# another's would be measured cheaper than on its own.
for ((i = 0; i < n; i += 10)); do
	rotated "$((i / 10))" "$@"
	for rt in "${order[@]}"; do
		s=${EPOCHREALTIME/./}
		for ((j = i; j < i + 10 && j < n; j++)); do
			"$rt" --root "$STATE/$(name "$rt")" exec "bench-$(name "$rt")" /bin/true || { echo "$rt exec failed" >&2; exit 1; }
		done
		e=${EPOCHREALTIME/./}
		total[$rt]=$(( ${total[$rt]} + e - s ))
	done
done
for rt in "$@"; do echo "$(name "$rt") $(( ${total[$rt]} / n ))"; done
SH
cd "$work/bundle"
STATE=$work/state unshare -m bash "$work/loop.sh" "$N" "${runtimes[@]}" |
	print_ratios "exec /bin/true into a running container, $N execs each" ms/exec 1000
