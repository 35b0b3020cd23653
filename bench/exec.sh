#!/usr/bin/env bash
# bench/exec.sh: N sequential `exec ID /bin/true` into a running busybox
# container (sleep) with ocikit, crun and runc, interleaved (ocikit, crun,
# runc, ocikit, ... in rounds of 10) so that the load of a shared machine hits all alike;
# prints ms per exec and ratios. Each runtime execs into its own container
# created from the same bundle.
#
#   OCIKIT=bin/ocikit N=50 bash bench/exec.sh
#
# As bench/runtime.sh: all run in one private mount namespace without the
# cgroup2 mount at /sys/fs/cgroup/unified (crun 1.8 refuses this host's
# hybrid layout otherwise).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-50}
[[ $(id -u) == 0 ]] || { echo "exec bench: needs root" >&2; exit 1; }
bb=$(command -v busybox) || { echo "exec bench: busybox-static missing" >&2; exit 1; }
OCIKIT=$(cd "$(dirname "$OCIKIT")" && pwd)/$(basename "$OCIKIT")

work=$(mktemp -d /tmp/ocikit-bench-exec.XXXXXX)
mkdir -p "$work/bundle/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp "$bb" "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
ln -s busybox "$work/bundle/rootfs/bin/sleep"
(cd "$work/bundle" && "$OCIKIT" spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sleep", "100000"]
# crun 1.8 rejects ociVersion 1.3.0; every runtime gets the same config.
c["ociVersion"] = "1.0.2"
json.dump(c, open(p, "w"))
PY

runtimes=("$OCIKIT")
for r in crun runc; do
	if command -v "$r" >/dev/null; then runtimes+=("$(command -v "$r")"); else echo "$r: not installed, skipped"; fi
done

cat >"$work/loop.sh" <<'SH'
set -u
n=$1; shift
umount /sys/fs/cgroup/unified 2>/dev/null || true
cleanup() {
	for rt in "$@"; do "$rt" --root "$STATE/$(basename "$rt")" delete --force "bench-$(basename "$rt")" >/dev/null 2>&1; done
}
trap 'cleanup "$@"' EXIT
declare -A total
for rt in "$@"; do
	mkdir -p "$STATE/$(basename "$rt")"
	"$rt" --root "$STATE/$(basename "$rt")" run --detach "bench-$(basename "$rt")" </dev/null >/dev/null || { echo "$rt run failed" >&2; exit 1; }
	"$rt" --root "$STATE/$(basename "$rt")" exec "bench-$(basename "$rt")" /bin/true || { echo "$rt exec failed" >&2; exit 1; }
	total[$rt]=0
done
# Rounds of 10 execs per runtime: a cgroup v1 migration costs an RCU grace
# period unless another migration ran just before (the kernel's rcu_sync
# of cgroup_threadgroup_rwsem), so one runtime's exec right after
# another's would be measured cheaper than on its own.
for ((i = 0; i < n; i += 10)); do
	for rt in "$@"; do
		s=${EPOCHREALTIME/./}
		for ((j = i; j < i + 10 && j < n; j++)); do
			"$rt" --root "$STATE/$(basename "$rt")" exec "bench-$(basename "$rt")" /bin/true || { echo "$rt exec failed" >&2; exit 1; }
		done
		e=${EPOCHREALTIME/./}
		total[$rt]=$(( ${total[$rt]} + e - s ))
	done
done
for rt in "$@"; do echo "$(basename "$rt") $(( ${total[$rt]} / n ))"; done
SH
trap 'rm -rf "$work"' EXIT
cd "$work/bundle"
results=$(STATE=$work/state unshare -m bash "$work/loop.sh" "$N" "${runtimes[@]}")

o=$(head -n1 <<<"$results" | awk '{ print $2 }') # ocikit runs first
printf '%-8s %12s %10s\n' runtime "ms/exec" "vs ocikit"
while read -r name us; do
	awk -v n="$name" -v t="$us" -v o="$o" 'BEGIN { printf "%-8s %12.2f %9.2fx\n", n, t / 1000, (o > 0) ? t / o : 0 }'
done <<<"$results"
