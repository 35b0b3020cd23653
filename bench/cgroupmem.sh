#!/usr/bin/env bash
# bench/cgroupmem.sh: the memory charged to a container's cgroup by the time
# its program runs: N times `run --detach` of `sleep` with ocikit, crun and
# runc, interleaved, each container in its own cgroup (linux.cgroupsPath);
# prints the mean of its memory.max_usage_in_bytes (cgroup v1) or
# memory.peak (v2) read once the program runs, in KiB, and the ratio to
# crun. What the runtime's own init touched in the cgroup before its
# execve counts here; the kernel charges memory in per-CPU batches of 64
# pages, so single values come in steps of 256 KiB: a value says as much
# about how many CPUs charged the cgroup as about how much they charged.
# Under cgroup v1 a second table gives the peak of the kernel's part
# (memory.kmem.max_usage_in_bytes: namespaces, mounts, page tables, task
# structures), which is charged by the page without batches; the user
# pages the program itself maps are the same whichever runtime started it.
#
#   OCIKIT=bin/ocikit N=10 bash bench/cgroupmem.sh
#   OCIKIT_BASE=bin/ocikit-main ...   # also a second ocikit build
#
# All run in one private mount namespace without the cgroup2 mount at
# /sys/fs/cgroup/unified (bench/lib/runtimes.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-10}
. "$here/lib/runtimes.sh"
runtimes_init cgroupmem

make_rootfs "$work/rootfs"
prefix=ocikit-bench-mem-$$
for rt in "${runtimes[@]}"; do
	for ((i = 0; i < N; i++)); do
		echo "$work/b/$(basename "$rt")-$i /$prefix/$(basename "$rt")-$i"
	done
done | make_configs "$work/rootfs" /bin/sleep 100000

cat >"$work/loop.sh" <<SH
$loop_prelude
SH
cat >>"$work/loop.sh" <<'SH'
n=$1 prefix=$2; shift 2
mem=$(memdir)
[[ -n $mem ]] || { echo "cgroupmem bench: no memory cgroup controller" >&2; exit 1; }
cleanup() {
	for d in /sys/fs/cgroup/*/"$prefix" /sys/fs/cgroup/"$prefix"; do
		[[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
}
trap cleanup EXIT
declare -A total kmem
for rt in "$@"; do
	mkdir -p "$STATE/$(name "$rt")"
	total[$rt]=0 kmem[$rt]=0
done
for ((i = 0; i < n; i++)); do
	for rt in "$@"; do
		nm=$(name "$rt") id=m$i
		"$rt" --root "$STATE/$nm" run --detach --bundle "$WORK/b/$nm-$i" "$id" </dev/null >/dev/null || { echo "$rt run failed" >&2; exit 1; }
		total[$rt]=$(( ${total[$rt]} + $(peak "$mem/$prefix/$nm-$i") ))
		k=$mem/$prefix/$nm-$i/memory.kmem.max_usage_in_bytes
		[[ -e $k ]] && kmem[$rt]=$(( ${kmem[$rt]} + $(<"$k") ))
		"$rt" --root "$STATE/$nm" delete --force "$id" || { echo "$rt delete failed" >&2; exit 1; }
	done
done
for rt in "$@"; do echo "peak $(name "$rt") $(( ${total[$rt]} / n ))"; done
for rt in "$@"; do (( ${kmem[$rt]} > 0 )) && echo "kmem $(name "$rt") $(( ${kmem[$rt]} / n ))"; done
exit 0
SH
out=$(STATE=$work/state WORK=$work unshare -m bash "$work/loop.sh" "$N" "$prefix" "${runtimes[@]}")
awk '$1 == "peak" { print $2, $3 }' <<<"$out" |
	print_ratios "memory charged to the container's cgroup (run --detach sleep), $N containers each" KiB 1024
if grep -q '^kmem ' <<<"$out"; then
	awk '$1 == "kmem" { print $2, $3 }' <<<"$out" |
		print_ratios "of it kernel memory, exact (cgroup v1 memory.kmem.max_usage_in_bytes)" KiB 1024
fi
