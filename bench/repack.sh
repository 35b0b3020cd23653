#!/usr/bin/env bash
# bench/repack.sh: `ocikit image repack` against `umoci repack` on the same
# change set: both unpack the same image (a busybox layer plus a layer of the
# Go source tree, ~15k files), then 100 files are modified, a directory tree
# is deleted and a few files are added in each rootfs, and each tool
# repacks its own bundle (default gzip compression for both). ocikit finds
# changes from its lstat snapshot; umoci re-hashes the tree against its
# mtree. Prints the best of $RUNS runs of each and the ratio (target: ocikit
# in at most half of umoci's time). Then `ocikit image add-layer` of the
# source tree against `umoci insert` of it.
set -euo pipefail
OCIKIT=${OCIKIT:?set OCIKIT to the ocikit binary}
RUNS=${RUNS:-3}
SRC=${BENCH_SRC:-/usr/local/go/src}
command -v umoci >/dev/null || { echo "umoci not installed (make deps)"; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root (umoci and ocikit unpack with owners)"; exit 1; }

work=$(mktemp -d /var/tmp/ocikit-bench-repack.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/base/bin" "$work/base/etc"
cp "$(command -v busybox)" "$work/base/bin/busybox"
ln -s busybox "$work/base/bin/sh"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/base/etc/passwd"
mkdir -p "$work/app/srv"
cp -a "$SRC" "$work/app/srv/"

L=$work/layout
"$OCIKIT" image new "$L:bench" >/dev/null
"$OCIKIT" image add-layer "$L:bench" "$work/base" >/dev/null
"$OCIKIT" image add-layer "$L:bench" "$work/app" >/dev/null
"$OCIKIT" image config "$L:bench" --cmd /bin/sh >/dev/null
files=$(find "$work/base" "$work/app" | wc -l)
echo "image: 2 gzip layers, $files files, $(du -sh "$work/app" | cut -f1)"

# change ROOTFS: the same change set in any rootfs.
change() {
	local r=$1
	find "$r/srv/src" -name '*.go' -path '*/strings/*' -o -name '*.go' -path '*/bytes/*' -o -name '*.go' -path '*/sort/*' |
		sort | head -100 | while read -r f; do echo "// changed" >>"$f"; done
	rm -rf "$r/srv/src/net"
	mkdir -p "$r/srv/new"
	for i in $(seq 1 10); do echo "new $i" >"$r/srv/new/f$i"; done
}

best_o="" best_u=""
for ((i = 0; i < RUNS; i++)); do
	bo=$work/bo-$i bu=$work/bu-$i
	"$OCIKIT" image unpack "$L:bench" "$bo" >/dev/null
	umoci unpack --image "$L:bench" "$bu" >/dev/null 2>&1
	change "$bo/rootfs"
	change "$bu/rootfs"
	sync
	t0=$EPOCHREALTIME
	"$OCIKIT" image repack "$bo" "$L:o-$i" >/dev/null
	t1=$EPOCHREALTIME
	umoci repack --image "$L:u-$i" "$bu" >/dev/null 2>&1
	t2=$EPOCHREALTIME
	o=$(echo "$t1 - $t0" | bc) u=$(echo "$t2 - $t1" | bc)
	if [[ -z $best_o ]] || (($(echo "$o < $best_o" | bc))); then best_o=$o; fi
	if [[ -z $best_u ]] || (($(echo "$u < $best_u" | bc))); then best_u=$u; fi
	rm -rf "$bo" "$bu"
done
printf '%-40s %8.3fs\n' "ocikit image repack" "$best_o" "umoci repack" "$best_u"
printf 'ratio umoci/ocikit: %.2fx\n' "$(echo "$best_u / $best_o" | bc -l)"

# add-layer: a layer from a directory (the Go source tree under /srv)
# against `umoci insert` of the same tree at the same place.
best_o="" best_u=""
for ((i = 0; i < RUNS; i++)); do
	"$OCIKIT" image tag "$L:bench" "o-add-$i" "u-add-$i"
	sync
	t0=$EPOCHREALTIME
	"$OCIKIT" image add-layer "$L:o-add-$i" "$work/app" >/dev/null
	t1=$EPOCHREALTIME
	umoci insert --image "$L:u-add-$i" "$work/app/srv" /srv >/dev/null 2>&1
	t2=$EPOCHREALTIME
	o=$(echo "$t1 - $t0" | bc) u=$(echo "$t2 - $t1" | bc)
	if [[ -z $best_o ]] || (($(echo "$o < $best_o" | bc))); then best_o=$o; fi
	if [[ -z $best_u ]] || (($(echo "$u < $best_u" | bc))); then best_u=$u; fi
done
printf '%-40s %8.3fs\n' "ocikit image add-layer" "$best_o" "umoci insert" "$best_u"
printf 'ratio umoci/ocikit: %.2fx\n' "$(echo "$best_u / $best_o" | bc -l)"
