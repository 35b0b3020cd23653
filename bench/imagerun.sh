#!/usr/bin/env bash
# bench/imagerun.sh: `ocikit image run` against podman on one image
# (busybox-static plus a layer of the Go toolchain's src/, ~100 MB
# unpacked, in an OCI layout), side by side, interleaved, $RUNS times each:
#
#   warm  `ocikit image run --rm IMAGE true` (image and snapshots in the
#         store) against `podman run --rm` of the same image from podman's
#         own store (overlay driver), with --runtime crun and with runc;
#   cold  the store empty: ocikit image run against podman pull + run;
#   disk  20 detached containers of the image: the store's size against
#         the image's unpacked size;
#   also  warm rootless (nobody, its default store) and warm with the copy
#         fallback (OCIKIT_ROOTFS_COPY=1), against root's overlay.
#
# Podman runs with its own temporary store, cgroupfs, no event log and the
# rlimits this machine's hard limits allow. Prints medians and ratios
# (issue 11's target: warm ocikit at most 0.2x podman).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
GO=${GO:-go}
command -v podman >/dev/null || { echo "podman not installed (make deps)"; exit 1; }
command -v busybox >/dev/null || { echo "busybox not installed (make deps)"; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root"; exit 1; }
# podman refuses a runroot of 50 characters or more and upper-case names.
work=/var/tmp/ocikit-ir.$$.$RANDOM
mkdir -m 700 "$work"
PB=(--root "$work/p/root" --runroot "$work/p/run" --cgroup-manager cgroupfs --events-backend none)
PRUN=(--rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
OK() { "$OCIKIT" --root "$work/state" "$@"; }
cleanup() {
	for id in $(OK list -q 2>/dev/null); do OK delete --force "$id" >/dev/null 2>&1 || true; done
	podman "${PB[@]}" rm -a -f >/dev/null 2>&1 || true
	podman "${PB[@]}" rmi -a -f >/dev/null 2>&1 || true
	umount -R "$work/p/root" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
if [[ -z ${OCIKIT:-} ]]; then
	OCIKIT=$work/ocikit
	$GO build -o "$OCIKIT" ./cmd/ocikit
fi

# The image: busybox-static, then the Go toolchain's src/ as a second layer.
src=$work/src
mkdir -p "$src"/{bin,etc,proc,sys,dev,tmp,root}
cp "$(command -v busybox)" "$src/bin/busybox"
for a in sh true echo cat ls id; do ln -s busybox "$src/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$src/etc/passwd"
printf 'root:x:0:\n' >"$src/etc/group"
L=$work/layout
"$OCIKIT" image init "$L" >/dev/null
"$OCIKIT" image new "$L:bench" >/dev/null
"$OCIKIT" image add-layer "$L:bench" "$src" >/dev/null
mkdir -p "$work/go/usr/local"
cp -a "$($GO env GOROOT)/src" "$work/go/usr/local/gosrc"
"$OCIKIT" image add-layer "$L:bench" "$work/go" >/dev/null
"$OCIKIT" image config "$L:bench" --entrypoint /bin/sh --cmd -c --cmd true >/dev/null
rm -rf "$work/go" "$src"
size=$(du -sh "$L/blobs" | cut -f1)
echo "image: 2 layers, $size compressed; work dir $work"

# run NAME CMD...: one timed run.
run() {
	local name=$1; shift
	local t0 t1
	t0=$EPOCHREALTIME
	"$@" >/dev/null 2>"$work/err" || { echo "$name failed:"; cat "$work/err"; return 1; }
	t1=$EPOCHREALTIME
	echo "$t1 - $t0" | bc >>"$work/times-$name"
}
median() {
	[[ -s $work/times-$1 ]] || { echo nan; return; }
	sort -n "$work/times-$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# Warm: both stores hold the image.
store=$work/store
OK image run --store "$store" --rm "$L:bench" >/dev/null 2>&1
podman "${PB[@]}" pull -q "oci:$L:bench" >/dev/null
pimg=$(podman "${PB[@]}" images -q | head -1)
crun_ok=1
podman "${PB[@]}" run "${PRUN[@]}" --runtime crun "$pimg" -c true >/dev/null 2>"$work/crun.err" || crun_ok=0
# Rootless: nobody, from its own default store ($XDG_DATA_HOME/ocikit),
# the same image; and root's copy fallback (OCIKIT_ROOTFS_COPY=1).
rl=$work/rl
mkdir -p "$rl/bin" "$rl/data" "$rl/run"
cp "$OCIKIT" "$rl/bin/ocikit"
chown -R 65534:65534 "$rl"
chmod 711 "$work"
chmod -R a+rX "$L"
RL() { setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin XDG_DATA_HOME="$rl/data" XDG_RUNTIME_DIR="$rl/run" "$rl/bin/ocikit" "$@"; }
rl_ok=1
RL image run --rm "$L:bench" >/dev/null 2>"$work/rl.err" || rl_ok=0
for ((i = 0; i < RUNS; i++)); do
	run ocikit-warm OK image run --store "$store" --rm "$L:bench"
	((rl_ok)) && run ocikit-rootless-warm RL image run --rm "$L:bench"
	run ocikit-copy-warm env OCIKIT_ROOTFS_COPY=1 "$OCIKIT" --root "$work/state" image run --store "$store" --rm "$L:bench"
	((crun_ok)) && run podman-crun-warm podman "${PB[@]}" run "${PRUN[@]}" --runtime crun "$pimg" -c true
	run podman-runc-warm podman "${PB[@]}" run "${PRUN[@]}" --runtime runc "$pimg" -c true
done

# Cold: empty stores each time.
for ((i = 0; i < (RUNS + 1) / 2; i++)); do
	rm -rf "$work/cold"
	sync
	run ocikit-cold OK image run --store "$work/cold" --rm "$L:bench"
	podman "${PB[@]}" rmi -a -f >/dev/null 2>&1
	sync
	run podman-cold sh -c "podman ${PB[*]} pull -q oci:$L:bench >/dev/null && podman ${PB[*]} run ${PRUN[*]} --runtime runc \$(podman ${PB[*]} images -q | head -1) -c true"
done
rm -rf "$work/cold"

printf '%-34s %9s %9s %9s\n' case ocikit podman ratio
o=$(median ocikit-warm)
if ((crun_ok)); then
	awk -v o="$o" -v p="$(median podman-crun-warm)" 'BEGIN { printf "%-34s %8.3fs %8.3fs %8.2fx\n", "warm, podman --runtime crun", o, p, o / p }'
else
	echo "warm, podman --runtime crun         (crun fails here: $(tail -1 "$work/crun.err"))"
fi
awk -v o="$o" -v p="$(median podman-runc-warm)" 'BEGIN { printf "%-34s %8.3fs %8.3fs %8.2fx\n", "warm, podman --runtime runc", o, p, o / p }'
if ((rl_ok)); then
	awk -v o="$(median ocikit-rootless-warm)" -v p="$(median podman-runc-warm)" 'BEGIN { printf "%-34s %8.3fs %8.3fs %8.2fx\n", "warm rootless (nobody), podman runc", o, p, o / p }'
	awk -v r="$(median ocikit-rootless-warm)" -v o="$o" 'BEGIN { printf "warm rootless ocikit %.3fs against root ocikit %.3fs: %.2fx\n", r, o, r / o }'
else
	echo "warm rootless                       (fails here: $(tail -1 "$work/rl.err"))"
fi
awk -v c="$(median ocikit-copy-warm)" -v o="$o" 'BEGIN { printf "warm copy fallback (OCIKIT_ROOTFS_COPY=1) %.3fs against the overlay %.3fs: %.2fx\n", c, o, c / o }'
awk -v o="$(median ocikit-cold)" -v p="$(median podman-cold)" 'BEGIN { printf "%-34s %8.3fs %8.3fs %8.2fx\n", "cold (podman: pull + run, runc)", o, p, o / p }'

# Disk: 20 containers of the image.
for ((i = 0; i < 20; i++)); do
	OK image run --store "$store" -d --name "irbench-$i" "$L:bench" -- -c 'echo x > /root/w; sleep 600' >/dev/null 2>&1
done
snap=$(du -sk "$store/snapshots" | cut -f1)
ctrs=$(du -sk "$store/containers" | cut -f1)
mkdir -p "$work/flat"
OK image unpack --rootfs-only "$L:bench" "$work/flat/r" >/dev/null 2>&1
flat=$(du -sk "$work/flat/r" | cut -f1)
rm -rf "$work/flat"
echo "disk, 20 running containers: snapshots ${snap} KiB (the image unpacked once: ${flat} KiB), 20 container directories ${ctrs} KiB"
for ((i = 0; i < 20; i++)); do OK delete --force "irbench-$i" >/dev/null 2>&1; done
