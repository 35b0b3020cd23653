#!/usr/bin/env bash
# bench/containerd.sh: N `ctr run --rm IMAGE ID true` through containerd's
# runc shim v2 with ocikit, runc and crun as its runtime binary (ctr
# --runc-binary), interleaved (ocikit, runc, crun, ocikit, ...) so that the
# load of a shared machine hits all alike; prints ms per container and
# ratios. The whole path is timed: ctr, containerd, snapshot, shim, runtime
# create/start/delete, and the shim's exit.
#
#   OCIKIT=bin/ocikit N=20 bash bench/containerd.sh
#
# A private containerd (own root, state, socket, no CRI plugin) runs in a
# private mount namespace without the cgroup2 mount at
# /sys/fs/cgroup/unified, which crun 1.8 refuses on this hybrid host; the
# image is a busybox image built by ocikit and imported as an OCI archive.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-20}
[[ $(id -u) == 0 ]] || { echo "containerd bench: needs root" >&2; exit 1; }
for t in containerd ctr containerd-shim-runc-v2; do
	command -v "$t" >/dev/null || { echo "containerd bench: $t missing (apt-get install containerd)" >&2; exit 1; }
done
bb=$(command -v busybox) || { echo "containerd bench: busybox-static missing" >&2; exit 1; }
OCIKIT=$(cd "$(dirname "$OCIKIT")" && pwd)/$(basename "$OCIKIT")

work=$(mktemp -d /tmp/ocikit-bench-containerd.XXXXXX)
daemon=
cleanup() {
	if [[ -n $daemon ]]; then
		for id in $(ctr -a "$work/c.sock" -n ocikit-bench task ls -q 2>/dev/null); do
			ctr -a "$work/c.sock" -n ocikit-bench task rm -f "$id" >/dev/null 2>&1 || true
		done
		kill "$daemon" 2>/dev/null || true
		wait "$daemon" 2>/dev/null || true
	fi
	rm -rf "$work"
	# The tasks' parent cgroup /ocikit-bench (ctr's /NS/ID) is ours.
	for d in /sys/fs/cgroup/*/ocikit-bench /sys/fs/cgroup/ocikit-bench; do
		[[ -d $d && ! -L $d ]] && rmdir "$d" 2>/dev/null
	done
	return 0
}
trap cleanup EXIT

mkdir -p "$work/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp "$bb" "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/true"
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
"$OCIKIT" image new "$work/layout:v1" >/dev/null
"$OCIKIT" image add-layer "$work/layout:v1" "$work/rootfs" >/dev/null
"$OCIKIT" image config "$work/layout:v1" --cmd /bin/true --env PATH=/bin >/dev/null
"$OCIKIT" image gc "$work/layout" >/dev/null
tar -C "$work/layout" -cf "$work/image.tar" .

cat >"$work/config.toml" <<EOF
version = 2
root = "$work/root"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/c.sock"
[ttrpc]
  address = "$work/c.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$work/opt"
EOF
# The daemon's mounts (snapshots, rootfs) live and die with its namespace.
unshare -m --propagation private sh -c \
	'umount /sys/fs/cgroup/unified 2>/dev/null; exec containerd --config "$1"' sh "$work/config.toml" \
	>"$work/containerd.log" 2>&1 &
daemon=$!
ctr=(ctr -a "$work/c.sock" -n ocikit-bench)
for ((i = 0; i < 100; i++)); do
	"${ctr[@]}" version >/dev/null 2>&1 && break
	kill -0 "$daemon" 2>/dev/null || { cat "$work/containerd.log" >&2; exit 1; }
	sleep 0.1
done
"${ctr[@]}" images import --base-name ocikit.test/ocikit/bench "$work/image.tar" >/dev/null
image=ocikit.test/ocikit/bench:v1

runtimes=("$OCIKIT")
for r in runc crun; do
	if command -v "$r" >/dev/null; then runtimes+=("$(command -v "$r")"); else echo "$r: not installed, skipped"; fi
done

declare -A total
one() { # one RUNTIME ID
	"${ctr[@]}" run --rm --runc-binary "$1" --runc-root "$work/runc" --fifo-dir "$work/fifo" "$image" "$2" true >/dev/null
}
for rt in "${runtimes[@]}"; do
	one "$rt" "warm-$(basename "$rt")" || { echo "ctr run with $rt failed" >&2; exit 1; }
	total[$rt]=0
done
for ((i = 0; i < N; i++)); do
	for rt in "${runtimes[@]}"; do
		s=${EPOCHREALTIME/./}
		one "$rt" "b$i-$(basename "$rt")" || { echo "ctr run with $rt failed" >&2; exit 1; }
		e=${EPOCHREALTIME/./}
		total[$rt]=$((${total[$rt]} + e - s))
	done
done

o=${total[$OCIKIT]}
printf 'ctr run --rm IMAGE ID true, %d runs each\n' "$N"
printf '%-8s %12s %10s\n' runtime "ms/container" "vs ocikit"
for rt in "${runtimes[@]}"; do
	awk -v n="$(basename "$rt")" -v t="${total[$rt]}" -v o="$o" -v c="$N" \
		'BEGIN { printf "%-8s %12.2f %9.2fx\n", n, t / c / 1000, (o > 0) ? t / o : 0 }'
done
