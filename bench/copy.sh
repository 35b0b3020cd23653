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
RUNS=${RUNS:-3}
GO=${GO:-go}
SRC=${BENCH_SRC:-$($GO env GOROOT)}
command -v skopeo >/dev/null || { echo "skopeo not installed (make deps)"; exit 1; }
WORKDIR=${BENCH_WORKDIR:-/var/tmp}
shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')
if [[ -z ${BENCH_WORKDIR:-} && -n $shm_free ]] && ((shm_free > 3 * 1024 * 1024)); then
	WORKDIR=/dev/shm
fi
work=$(mktemp -d "$WORKDIR/ocikit-bench-copy.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [[ -z ${OCIKIT:-} ]]; then
	OCIKIT=$work/ocikit
	$GO build -o "$OCIKIT" ./cmd/ocikit
fi
$GO build -o "$work/mklayout" ./bench/cmd/mklayout
tar --sort=name -czf "$work/layer.tar.gz" -C "$SRC" .
"$work/mklayout" "$work/layout" bench "$work/layer.tar.gz"
skopeo copy -q oci:"$work/layout":bench oci-archive:"$work/src.tar":bench
echo "work dir: $WORKDIR; image: one layer of $(du -h "$work/layer.tar.gz" | cut -f1)"

# run NAME CMD...: one timed run, OUT replaced by a fresh path.
run() {
	local name=$1; shift
	local out=$work/out-$name t0 t1
	rm -rf "$out" "$out.tar"
	sync
	local args=("${@//OUT/$out}")
	t0=$(date +%s.%N)
	"${args[@]}" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc >>"$work/times-$name"
}
median() { sort -n "$work/times-$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

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
