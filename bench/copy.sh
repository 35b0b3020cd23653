#!/usr/bin/env bash
# bench/copy.sh: `ocikit image copy` against `skopeo copy` between an OCI
# layout and an OCI archive, both ways, on one image whose single gzip
# layer is the Go toolchain directory (`go env GOROOT`, as bench/unpack.sh;
# about 100 MB compressed). Each direction runs $RUNS times per tool,
# interleaved, into a fresh destination; prints the median wall time and
# ocikit's ratio to skopeo (issue 8's target for registry pulls and pushes
# is 0.5; archives are the transports ocikit copies so far).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/goimage.sh
command -v skopeo >/dev/null || { echo "skopeo not installed (make deps)"; exit 1; }
goimage_init copy 3
skopeo copy -q oci:"$work/layout":bench oci-archive:"$work/src.tar":bench
echo "work dir: $WORKDIR; image: one layer of $(du -h "$work/layer.tar.gz" | cut -f1)"

for ((i = 0; i < RUNS; i++)); do
	run ocikit-to-archive "$OCIKIT" image copy -q "$work/layout:bench" oci-archive:OUT.tar:bench
	run skopeo-to-archive skopeo copy -q oci:"$work/layout":bench oci-archive:OUT.tar:bench
	run ocikit-from-archive "$OCIKIT" image copy -q oci-archive:"$work/src.tar":bench oci:OUT:bench
	run skopeo-from-archive skopeo copy -q oci-archive:"$work/src.tar":bench oci:OUT:bench
done
printf '%-22s %10s %10s %10s\n' direction ocikit skopeo ratio
for d in to-archive from-archive; do
	o=$(median ocikit-$d) s=$(median skopeo-$d)
	awk -v d="layout $d" -v o="$o" -v s="$s" 'BEGIN { printf "%-22s %9.2fs %9.2fs %9.2fx\n", d, o, s, o / s }'
done
