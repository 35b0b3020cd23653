#!/usr/bin/env bash
# bench/lifecycle.sh: each step of a container's life as containerd and
# podman drive it (create, start, delete --force of /bin/true, which has
# exited by then), N containers each with ocikit, crun and runc,
# interleaved (ocikit, crun, runc, then crun, runc, ocikit, ...); prints ms per step and the
# ratio to crun. start and delete are ocikit's C paths (runtime/nsenter/fast.c).
# The order rotates each container (see rotated in lib/runtimes.sh): a
# runtime right after another pays for what that one left behind.
#
#   OCIKIT=bin/ocikit N=60 bash bench/lifecycle.sh
#   OCIKIT_BASE=bin/ocikit-main ...   # also a second ocikit build
#
# All run in one private mount namespace without the cgroup2 mount at
# /sys/fs/cgroup/unified (bench/lib/runtimes.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-60}
. "$here/lib/runtimes.sh"
runtimes_init lifecycle

make_rootfs "$work/rootfs"
echo "$work/bundle" | make_configs "$work/rootfs" /bin/true

cat >"$work/loop.sh" <<SH
$loop_prelude
SH
cat >>"$work/loop.sh" <<'SH'
n=$1; shift
declare -A total
for rt in "$@"; do
	mkdir -p "$STATE/$(name "$rt")"
	for step in create start delete; do total[$rt.$step]=0; done
done
for ((i = 0; i < n; i++)); do
	rotated "$i" "$@"
	for rt in "${order[@]}"; do
		r=("$rt" --root "$STATE/$(name "$rt")")
		s=${EPOCHREALTIME/./}
		"${r[@]}" create "c$i" </dev/null >/dev/null || { echo "$rt create failed" >&2; exit 1; }
		m=${EPOCHREALTIME/./}
		"${r[@]}" start "c$i" || { echo "$rt start failed" >&2; exit 1; }
		e=${EPOCHREALTIME/./}
		total[$rt.create]=$(( ${total[$rt.create]} + m - s ))
		total[$rt.start]=$(( ${total[$rt.start]} + e - m ))
		# /bin/true exits at once: wait for it, outside the timing.
		for ((k = 0; k < 100; k++)); do
			"${r[@]}" state "c$i" | grep -q '"stopped"' && break
			sleep 0.01
		done
		s=${EPOCHREALTIME/./}
		"${r[@]}" delete --force "c$i" || { echo "$rt delete failed" >&2; exit 1; }
		e=${EPOCHREALTIME/./}
		total[$rt.delete]=$(( ${total[$rt.delete]} + e - s ))
	done
done
for step in create start delete; do
	for rt in "$@"; do echo "$step $(name "$rt") $(( ${total[$rt.$step]} / n ))"; done
done
SH
cd "$work/bundle"
out=$(STATE=$work/state unshare -m bash "$work/loop.sh" "$N" "${runtimes[@]}")
for step in create start delete; do
	awk -v s="$step" '$1 == s { print $2, $3 }' <<<"$out" |
		print_ratios "$step of /bin/true, $N containers each, sequential" ms/container 1000
done
