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
command -v umoci >/dev/null || { echo "umoci not installed (make deps)"; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root (owners, devices; umoci unpack)"; exit 1; }
source bench/lib/goimage.sh
# Let the previous run's writeback settle before each run.
SETTLE=1
goimage_init unpack 3
L=$work/layout
blob=$(ls -S "$L"/blobs/sha256/* | head -1)
files=$(find "$SRC" | wc -l)
echo "work dir: $WORKDIR"
echo "layer: $SRC, $files files, $(du -sh "$SRC" | cut -f1) -> $(du -h "$blob" | cut -f1) gzip"

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
