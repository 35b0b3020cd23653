#!/usr/bin/env bash
# bench/runtime.sh: N sequential `run` of /bin/true in a busybox bundle with
# ocikit, crun and runc side by side; prints ms per container and ratios.
#
#   OCIKIT=bin/ocikit N=100 bash bench/runtime.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-100}
[[ $(id -u) == 0 ]] || { echo "runtime bench: needs root" >&2; exit 1; }
bb=$(command -v busybox) || { echo "runtime bench: busybox-static missing" >&2; exit 1; }

work=$(mktemp -d /tmp/ocikit-bench-runtime.XXXXXX)
cleanup() {
	for m in $(grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/bundle/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp "$bb" "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
ln -s busybox "$work/bundle/rootfs/bin/sh"
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

# crun 1.8 refuses this host's hybrid cgroup layout unless the cgroup2
# mount at /sys/fs/cgroup/unified is gone: run the whole loop in a private
# mount namespace without it (the timing includes no unshare per run).
cat >"$work/loop.sh" <<'SH'
rt=$1; root=$2; n=$3; bundle=$4
if [ "$(basename "$rt")" = crun ]; then umount /sys/fs/cgroup/unified 2>/dev/null || true; fi
cd "$bundle"
start=$(date +%s%N)
i=0
while [ $i -lt $n ]; do
	"$rt" --root "$root" run "b$i" >/dev/null || { echo "$rt run failed" >&2; exit 1; }
	i=$((i + 1))
done
end=$(date +%s%N)
echo $(( (end - start) / n / 1000 ))
SH

declare -A us
for rt in "$OCIKIT" crun runc; do
	name=$(basename "$rt")
	if ! command -v "$rt" >/dev/null; then echo "$name: not installed, skipped"; continue; fi
	mkdir -p "$work/root-$name"
	# One warm-up run (page cache, the read-only binary mount of ocikit).
	unshare -m sh "$work/loop.sh" "$rt" "$work/root-$name" 1 "$work/bundle" >/dev/null
	us[$name]=$(unshare -m sh "$work/loop.sh" "$rt" "$work/root-$name" "$N" "$work/bundle")
done

printf '%-8s %12s %10s\n' runtime "ms/container" "vs ocikit"
o=${us[ocikit]:-0}
for name in ocikit crun runc; do
	[[ -n ${us[$name]:-} ]] || continue
	awk -v n="$name" -v t="${us[$name]}" -v o="$o" 'BEGIN { r = (o > 0) ? t / o : 0; printf "%-8s %12.2f %9.2fx\n", n, t / 1000, r }'
done
