#!/usr/bin/env bash
# bench/unpack.sh: unpacking one gzip layer of the Go toolchain directory
# (`go env GOROOT`, ~16,700 files) with `tar -xzf`, `umoci unpack`,
# `umoci raw unpack` and `ocikit image unpack --rootfs-only` (layer.Unpack:
# digest + diff_id verification, whiteout handling, in-root path resolution).
#
# The layer is `tar --sort=name -czf` of GOROOT; bench/cmd/mklayout stores it
# byte for byte in an OCI layout, so every tool reads the same gzip blob.
# Each tool runs $RUNS times (interleaved, into a fresh directory on the
# same filesystem, after rm + sync of the previous output); the median wall
# time and its ratio to tar's are printed. Target: ocikit <= 0.9x tar.
#
# The work directory is /dev/shm when it has room (BENCH_WORKDIR overrides):
# on a tmpfs the numbers measure the tools (decompression, hashing, system
# calls); on a shared virtual disk they mostly measure writeback throttling,
# which varies by several times from run to run for every tool alike.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
GO=${GO:-go}
SRC=${BENCH_SRC:-$($GO env GOROOT)}
if [[ -z ${BENCH_WORKDIR:-} ]]; then
	BENCH_WORKDIR=/var/tmp
	shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')
	if [[ -n $shm_free ]] && ((shm_free > 3 * 1024 * 1024)); then
		BENCH_WORKDIR=/dev/shm
	fi
fi
WORKDIR=$BENCH_WORKDIR
command -v umoci >/dev/null || { echo "umoci not installed (make deps)"; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root (owners, devices; umoci unpack)"; exit 1; }

work=$(mktemp -d "$WORKDIR/ocikit-bench-unpack.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [[ -z ${OCIKIT:-} ]]; then
	OCIKIT=$work/ocikit
	$GO build -o "$OCIKIT" ./cmd/ocikit
fi
$GO build -o "$work/mklayout" ./bench/cmd/mklayout

tar --sort=name -czf "$work/layer.tar.gz" -C "$SRC" .
L=$work/layout
"$work/mklayout" "$L" bench "$work/layer.tar.gz"
blob=$(ls -S "$L"/blobs/sha256/* | head -1)
files=$(find "$SRC" | wc -l)
echo "work dir: $WORKDIR"
echo "layer: $SRC, $files files, $(du -sh "$SRC" | cut -f1) -> $(du -h "$blob" | cut -f1) gzip"

# run NAME CMD...: one timed run of CMD with OUT replaced by a fresh path;
# appends the wall time in seconds to $work/times-NAME.
run() {
	local name=$1; shift
	local out=$work/out-$name t0 t1
	rm -rf "$out"
	sync
	sleep 1
	local args=("${@//OUT/$out}")
	t0=$(date +%s.%N)
	"${args[@]}" >/dev/null 2>"$work/err-$name" || { cat "$work/err-$name"; exit 1; }
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc >>"$work/times-$name"
}

median() { sort -n "$work/times-$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for ((i = 0; i < RUNS; i++)); do
	run tar sh -c 'mkdir "$1" && tar -xzf "$2" -C "$1"' sh OUT "$blob"
	run umoci umoci unpack --image "$L:bench" OUT
	run umoci-raw umoci raw unpack --image "$L:bench" OUT
	run ocikit "$OCIKIT" image unpack --rootfs-only "$L:bench" OUT
done
rm -rf "$work"/out-*

t=$(median tar)
printf '%-36s %8s %8s  %s\n' "unpack (median of $RUNS)" "seconds" "vs tar" "all runs"
for name in tar umoci umoci-raw ocikit; do
	case $name in
	tar) label="tar -xzf" ;;
	umoci) label="umoci unpack (bundle)" ;;
	umoci-raw) label="umoci raw unpack (rootfs)" ;;
	ocikit) label="ocikit image unpack --rootfs-only" ;;
	esac
	m=$(median "$name")
	printf '%-36s %8.3f %7.2fx  %s\n' "$label" "$m" "$(echo "$m / $t" | bc -l)" "$(printf '%.2f ' $(cat "$work/times-$name"))"
done
