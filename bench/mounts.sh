#!/usr/bin/env bash
# bench/mounts.sh: container start-to-exit time (`run` of /bin/true) with
# the default mounts, and with 200 more (100 tmpfs, 100 read-only binds),
# for ocikit, runc and crun on the same bundle. The difference between the
# two configurations is the cost of the mounts themselves (runtime/rootfs:
# resolution inside the root, mount, remount). Prints the best of $RUNS
# runs of each and the ratios.
set -euo pipefail
OCIKIT=${OCIKIT:?set OCIKIT to the ocikit binary}
RUNS=${RUNS:-5}
N=${N:-100}
[[ $(id -u) == 0 ]] || { echo "needs root"; exit 1; }
command -v busybox >/dev/null || { echo "busybox not installed (make deps)"; exit 1; }

work=$(mktemp -d /var/tmp/ocikit-bench-mounts.XXXXXX)
trap 'rm -rf "$work"' EXIT
b=$work/bundle
mkdir -p "$b/rootfs/bin" "$b/rootfs/etc" "$b/rootfs/proc" "$b/rootfs/sys" "$b/rootfs/dev" "$b/data"
cp "$(command -v busybox)" "$b/rootfs/bin/busybox"
ln -s busybox "$b/rootfs/bin/sh"
ln -s busybox "$b/rootfs/bin/true"
echo data >"$b/data/file"
(cd "$b" && "$OCIKIT" spec)
cp "$b/config.json" "$work/default.json"
python3 - "$b/config.json" "$work/default.json" "$work/many.json" "$N" <<'PY'
import json, sys
src, default, many, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = json.load(open(src))
c["ociVersion"] = "1.0.2"  # crun 1.8 knows no later version; nothing newer is used
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(default, "w"))
for i in range(n):
    c["mounts"].append({"destination": "/t/%d" % i, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "size=1m"]})
    c["mounts"].append({"destination": "/b/%d" % i, "type": "bind", "source": "data", "options": ["rbind", "ro", "nosuid"]})
json.dump(c, open(many, "w"))
PY

crun_run() {
	# crun 1.8 refuses the hybrid cgroup layout unless the cgroup2 mount at
	# /sys/fs/cgroup/unified is gone: run it in a private mount namespace.
	unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec crun "$@"' crun "$@"
}

# best NAME CONFIG CMD...: run CMD (ID replaced by a fresh container id)
# $RUNS times with CONFIG as config.json, print the fastest wall time.
best() {
	local name=$1 cfg=$2; shift 2
	cp "$cfg" "$b/config.json"
	local best="" t0 t1 dt i
	for ((i = 0; i < RUNS; i++)); do
		local id="bench-$name-$$-$i"
		t0=$EPOCHREALTIME
		(cd "$b" && "${@//ID/$id}") >/dev/null 2>"$work/stderr" || { echo "$name failed:" >&2; cat "$work/stderr" >&2; return 1; }
		t1=$EPOCHREALTIME
		dt=$(echo "$t1 - $t0" | bc)
		if [[ -z $best ]] || (($(echo "$dt < $best" | bc))); then best=$dt; fi
	done
	echo "$best"
}

declare -A T
runtimes=(ocikit)
command -v runc >/dev/null && runtimes+=(runc)
command -v crun >/dev/null && runtimes+=(crun)
for cfg in default many; do
	for r in "${runtimes[@]}"; do
		case $r in
		ocikit) T[$r-$cfg]=$(best "$r-$cfg" "$work/$cfg.json" "$OCIKIT" run ID) ;;
		runc) T[$r-$cfg]=$(best "$r-$cfg" "$work/$cfg.json" runc run ID) ;;
		crun) T[$r-$cfg]=$(best "$r-$cfg" "$work/$cfg.json" crun_run run ID) ;;
		esac
	done
done
printf '%-10s %14s %14s %16s\n' runtime "default (s)" "+$((2 * N)) mounts" "per mount (ms)"
for r in "${runtimes[@]}"; do
	per=$(echo "(${T[$r-many]} - ${T[$r-default]}) * 1000 / (2 * $N)" | bc -l)
	printf '%-10s %14.3f %14.3f %16.3f\n' "$r" "${T[$r-default]}" "${T[$r-many]}" "$per"
done
for r in "${runtimes[@]}"; do
	[[ $r == ocikit ]] && continue
	printf 'ratio %s/ocikit: default %.2fx, +%d mounts %.2fx\n' "$r" \
		"$(echo "${T[$r-default]} / ${T[ocikit-default]}" | bc -l)" "$((2 * N))" \
		"$(echo "${T[$r-many]} / ${T[ocikit-many]}" | bc -l)"
done
