#!/usr/bin/env bash
# bench/dockerarchive.sh: `ocikit image copy` against `skopeo copy` with
# docker archives and recompression, on the image bench/copy.sh uses (one
# gzip layer of the Go toolchain directory): layout -> docker-archive
# (the layer decompressed on the way), docker-archive -> layout, and
# layout -> layout with --dest-compress-format zstd. Each runs $RUNS times
# per tool, interleaved, into a fresh destination; prints the median wall
# time and ocikit's ratio to skopeo.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/goimage.sh
command -v skopeo >/dev/null || { echo "skopeo not installed (make deps)"; exit 1; }
goimage_init dockerarchive 4
skopeo copy -q oci:"$work/layout":bench docker-archive:"$work/src.tar":bench:latest
echo "work dir: $WORKDIR; image: one layer of $(du -h "$work/layer.tar.gz" | cut -f1) gzip, $(du -h "$work/src.tar" | cut -f1) as a docker archive"

for ((i = 0; i < RUNS; i++)); do
	run ocikit-to-docker-archive "$OCIKIT" image copy -q "$work/layout:bench" docker-archive:OUT.tar:bench:latest
	run skopeo-to-docker-archive skopeo copy -q oci:"$work/layout":bench docker-archive:OUT.tar:bench:latest
	run ocikit-from-docker-archive "$OCIKIT" image copy -q docker-archive:"$work/src.tar" oci:OUT:bench
	run skopeo-from-docker-archive skopeo copy -q docker-archive:"$work/src.tar" oci:OUT:bench
	run ocikit-recompress-zstd "$OCIKIT" image copy -q --dest-compress-format zstd "$work/layout:bench" oci:OUT:bench
	run skopeo-recompress-zstd skopeo copy -q --dest-compress-format zstd oci:"$work/layout":bench oci:OUT:bench
done
printf '%-24s %10s %10s %10s\n' direction ocikit skopeo ratio
for d in to-docker-archive from-docker-archive recompress-zstd; do
	o=$(median ocikit-$d) s=$(median skopeo-$d)
	awk -v d="$d" -v o="$o" -v s="$s" 'BEGIN { printf "%-24s %9.2fs %9.2fs %9.2fx\n", d, o, s, o / s }'
done
