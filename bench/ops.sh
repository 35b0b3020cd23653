#!/usr/bin/env bash
# bench/ops.sh: runc's cgroup operations on one running container with
# ocikit, crun and runc, N rounds interleaved (ocikit, crun, runc, ...):
# pause + resume, update --pids-limit, events --stats and ps --format json.
# Prints ms per operation and the ratios to ocikit.
#
#   OCIKIT=bin/ocikit N=50 bash bench/ops.sh
#
# As bench/runtime.sh, all run in a private mount namespace without the
# cgroup2 mount at /sys/fs/cgroup/unified (crun 1.8 refuses the hybrid
# layout otherwise).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-50}
[[ $(id -u) == 0 ]] || { echo "ops bench: needs root" >&2; exit 1; }
bb=$(command -v busybox) || { echo "ops bench: busybox-static missing" >&2; exit 1; }
OCIKIT=$(cd "$(dirname "$OCIKIT")" && pwd)/$(basename "$OCIKIT")

work=$(mktemp -d /tmp/ocikit-bench-ops.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/bundle/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp "$bb" "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/sleep"
(cd "$work/bundle" && "$OCIKIT" spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sleep", "1000"]
c["ociVersion"] = "1.0.2"
c["linux"].setdefault("resources", {})["pids"] = {"limit": 100}
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
ops="pause-resume update events-stats ps-json"
# Each runtime has a container (and so a default cgroup) of its own.
rtc() { "$rt" --root "$STATE/$(basename "$rt")" "$@" >/dev/null; }
id() { echo "ops-$$-$(basename "$rt")"; }
cleanup() { for rt in "$@"; do rtc delete -f "$(id)" 2>/dev/null; done; }
trap 'cleanup "$@"' EXIT
doop() {
	case $1 in
	pause-resume) rtc pause "$(id)" && rtc resume "$(id)" ;;
	update) rtc update --pids-limit $((200 + $2)) "$(id)" ;;
	events-stats) rtc events --stats "$(id)" ;;
	ps-json) rtc ps --format json "$(id)" ;;
	esac
}
for rt in "$@"; do
	mkdir -p "$STATE/$(basename "$rt")"
	rtc run -d "$(id)" </dev/null || { echo "$rt run failed" >&2; exit 1; }
	for op in $ops; do
		total[$rt.$op]=0
		# An operation a peer lacks (crun 1.8 has no events) is skipped.
		doop "$op" 0 2>/dev/null || total[$rt.$op]=-1
	done
done
for ((i = 0; i < n; i++)); do
	for rt in "$@"; do
		for op in $ops; do
			[[ ${total[$rt.$op]} -lt 0 ]] && continue
			s=${EPOCHREALTIME/./}
			doop "$op" "$i" || { echo "$rt $op failed" >&2; exit 1; }
			e=${EPOCHREALTIME/./}
			total[$rt.$op]=$(( ${total[$rt.$op]} + e - s ))
		done
	done
done
for rt in "$@"; do
	for op in $ops; do
		if [[ ${total[$rt.$op]} -lt 0 ]]; then echo "$(basename "$rt") $op -"; else echo "$(basename "$rt") $op $(( ${total[$rt.$op]} / n ))"; fi
	done
done
SH
cd "$work/bundle"
results=$(STATE=$work/state unshare -m bash "$work/loop.sh" "$N" "${runtimes[@]}")

printf '%-8s %-14s %8s %10s\n' runtime operation "ms/op" "vs ocikit"
while read -r name op us; do
	o=$(awk -v op="$op" '$2 == op { print $3; exit }' <<<"$results") # ocikit comes first
	[[ $us == - ]] && { printf '%-8s %-14s %8s\n' "$name" "$op" "n/a"; continue; }
	awk -v n="$name" -v op="$op" -v t="$us" -v o="$o" 'BEGIN { printf "%-8s %-14s %8.2f %9.2fx\n", n, op, t / 1000, (o > 0) ? t / o : 0 }'
done <<<"$results"
