#!/usr/bin/env bash
# bench/runtime.sh: N `run` of /bin/true in a busybox bundle with ocikit,
# crun and runc, interleaved (ocikit, crun, runc, ocikit, ...) so that the
# load of a shared machine hits all three alike; prints ms per container
# and ratios.
#
#   OCIKIT=bin/ocikit N=100 bash bench/runtime.sh
#
# All three run in one private mount namespace without the cgroup2 mount
# at /sys/fs/cgroup/unified: crun 1.8 refuses this host's hybrid layout
# otherwise, and the runtimes then see the same cgroup hierarchies.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-100}
[[ $(id -u) == 0 ]] || { echo "runtime bench: needs root" >&2; exit 1; }
bb=$(command -v busybox) || { echo "runtime bench: busybox-static missing" >&2; exit 1; }
OCIKIT=$(cd "$(dirname "$OCIKIT")" && pwd)/$(basename "$OCIKIT")

work=$(mktemp -d /tmp/ocikit-bench-runtime.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/bundle/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp "$bb" "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
(cd "$work/bundle" && "$OCIKIT" spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
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
declare -A total
for rt in "$@"; do
	mkdir -p "$STATE/$(basename "$rt")"
	"$rt" --root "$STATE/$(basename "$rt")" run warm >/dev/null || { echo "$rt run failed" >&2; exit 1; }
	total[$rt]=0
done
for ((i = 0; i < n; i++)); do
	for rt in "$@"; do
		s=${EPOCHREALTIME/./}
		"$rt" --root "$STATE/$(basename "$rt")" run "b$i" >/dev/null || { echo "$rt run failed" >&2; exit 1; }
		e=${EPOCHREALTIME/./}
		total[$rt]=$(( ${total[$rt]} + e - s ))
	done
done
for rt in "$@"; do echo "$(basename "$rt") $(( ${total[$rt]} / n ))"; done
SH
cd "$work/bundle"
results=$(STATE=$work/state unshare -m bash "$work/loop.sh" "$N" "${runtimes[@]}")

o=$(head -n1 <<<"$results" | awk '{ print $2 }') # ocikit runs first
printf '%-8s %12s %10s\n' runtime "ms/container" "vs ocikit"
while read -r name us; do
	awk -v n="$name" -v t="$us" -v o="$o" 'BEGIN { printf "%-8s %12.2f %9.2fx\n", n, t / 1000, (o > 0) ? t / o : 0 }'
done <<<"$results"
