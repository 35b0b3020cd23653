# bench/lib/runtimes.sh: what the runtime benches (runtime.sh, exec.sh,
# concurrent.sh, cgroupmem.sh) share; sourced, not run (bench/run.sh runs
# only bench/*.sh).
#
# Runtimes compared, in this order: $OCIKIT, the binaries listed in
# $OCIKIT_BASE (other ocikit builds, e.g. of main, for before/after numbers
# in the same run; each with a file name of its own), crun, runc. Results are
# printed as ratios to crun (at most 1.0 is the target of issue 7).

# runtimes_init NAME: checks, the work directory ($work, removed on exit)
# and the list of runtimes ($runtimes).
runtimes_init() {
	bench=$1
	[[ $(id -u) == 0 ]] || { echo "$bench bench: needs root" >&2; exit 1; }
	bb=$(command -v busybox) || { echo "$bench bench: busybox-static missing" >&2; exit 1; }
	OCIKIT=$(cd "$(dirname "$OCIKIT")" && pwd)/$(basename "$OCIKIT")
	runtimes=("$OCIKIT")
	local b
	for b in ${OCIKIT_BASE:-}; do
		b=$(cd "$(dirname "$b")" && pwd)/$(basename "$b")
		[[ $(basename "$b") != "$(basename "$OCIKIT")" ]] || {
			echo "$bench bench: OCIKIT_BASE needs file names other than $(basename "$OCIKIT")" >&2
			exit 1
		}
		runtimes+=("$b")
	done
	for r in crun runc; do
		if command -v "$r" >/dev/null; then runtimes+=("$(command -v "$r")"); else echo "$r: not installed, skipped"; fi
	done
	# Every binary read from disk the same way: how a file came into the
	# page cache decides the size of its folios and so the page faults of
	# each start (a freshly linked ocikit took ~100 fewer per command
	# than a cp of it, here where a fault costs ~12 us). Each is read
	# back by one start of its own, outside any cgroup a bench measures.
	for b in "${runtimes[@]}"; do
		dd if="$b" iflag=nocache count=0 status=none 2>/dev/null || true
		"$b" --version >/dev/null 2>&1 || true
	done
	work=$(mktemp -d "/tmp/ocikit-bench-$bench.XXXXXX")
	trap 'rm -rf "$work"' EXIT
}

# make_rootfs DIR: a busybox root filesystem with true and sleep.
make_rootfs() {
	mkdir -p "$1"/{bin,proc,sys,dev,tmp,etc}
	cp "$bb" "$1/bin/busybox"
	ln -s busybox "$1/bin/true"
	ln -s busybox "$1/bin/sleep"
}

# make_configs ROOTFS ARGS...: for each line "DIR [CGROUPS_PATH]" on
# stdin, DIR/config.json from `ocikit spec`, without a terminal, running
# ARGS, with ROOTFS as root.path (absolute: runc refuses a symbolic link)
# and linux.cgroupsPath when given. One python process for all: the
# concurrent bench writes hundreds.
make_configs() {
	local rootfs=$1
	shift
	mkdir -p "$work/spec"
	[[ -e $work/spec/config.json ]] || (cd "$work/spec" && "$OCIKIT" spec)
	# The script on descriptor 3: stdin is the list.
	python3 /dev/fd/3 "$work/spec/config.json" "$rootfs" "$@" 3<<'PY'
import json, os, sys
base, rootfs, args = sys.argv[1], sys.argv[2], sys.argv[3:]
c = json.load(open(base))
c["process"]["terminal"] = False
c["process"]["args"] = args
c["root"]["path"] = rootfs
# crun 1.8 rejects ociVersion 1.3.0; every runtime gets the same config.
c["ociVersion"] = "1.0.2"
for line in sys.stdin:
    parts = line.split()
    if not parts:
        continue
    c["linux"].pop("cgroupsPath", None)
    if len(parts) > 1:
        c["linux"]["cgroupsPath"] = parts[1]
    os.makedirs(parts[0], exist_ok=True)
    json.dump(c, open(os.path.join(parts[0], "config.json"), "w"))
PY
}

# The loops run in a private mount namespace without the cgroup2 mount at
# /sys/fs/cgroup/unified: crun 1.8 refuses this host's hybrid layout
# otherwise, and the runtimes then see the same cgroup hierarchies. The
# loop script gets this prelude.
loop_prelude='set -u
umount /sys/fs/cgroup/unified 2>/dev/null || true
name() { basename "$1"; }
# memdir: the hierarchy of the memory controller (cgroup v1 or v2), or nothing.
memdir() {
	if [[ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ]]; then
		echo /sys/fs/cgroup/memory
	elif grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
		echo /sys/fs/cgroup
	fi
}
# peak DIR: the most memory ever charged to the cgroup DIR, in bytes.
peak() {
	if [[ -e $1/memory.max_usage_in_bytes ]]; then cat "$1/memory.max_usage_in_bytes"; else cat "$1/memory.peak"; fi
}
# rotated K RT...: sets order to the runtimes rotated by K places. A round
# that always runs the runtimes in one order favours some places: the
# runtime right after another pays for what that one left behind (two
# ocikit builds swapped places swapped their times, ~2 ms per run).
rotated() {
	local k=$1 j
	shift
	order=()
	for ((j = 0; j < $#; j++)); do
		order+=("${@:$(((j + k) % $# + 1)):1}")
	done
}
# timed_rounds N FN RT...: FN RT warm once for each runtime, then N
# rounds of FN RT bI, the order rotating (rotated), each call timed;
# prints each runtime name and its mean time in microseconds. FN says
# what failed; a failure ends the loop.
timed_rounds() {
	local n=$1 fn=$2 i rt s e
	shift 2
	local -A total
	for rt in "$@"; do
		"$fn" "$rt" warm || exit 1
		total[$rt]=0
	done
	for ((i = 0; i < n; i++)); do
		rotated "$i" "$@"
		for rt in "${order[@]}"; do
			s=${EPOCHREALTIME/./}
			"$fn" "$rt" "b$i" || exit 1
			e=${EPOCHREALTIME/./}
			total[$rt]=$(( ${total[$rt]} + e - s ))
		done
	done
	for rt in "$@"; do echo "$(name "$rt") $(( ${total[$rt]} / n ))"; done
}
'

# print_ratios TITLE UNIT SCALE: reads "runtime value" lines (value in
# microseconds or bytes) and prints value/SCALE in UNIT and the ratio to
# crun (to the first runtime when crun is missing).
print_ratios() {
	local title=$1 unit=$2 scale=$3 results ref
	results=$(cat)
	ref=$(awk '$1 == "crun" { print $2 }' <<<"$results")
	[[ -n $ref ]] || ref=$(head -n1 <<<"$results" | awk '{ print $2 }')
	printf '%s\n%-12s %12s %9s\n' "$title" runtime "$unit" "vs crun"
	while read -r name v; do
		awk -v n="$name" -v v="$v" -v r="$ref" -v s="$scale" \
			'BEGIN { printf "%-12s %12.2f %8.2fx\n", n, v / s, (r > 0) ? v / r : 0 }'
	done <<<"$results"
}
