#!/usr/bin/env bash
# bench/bundle.sh: a whole `ocikit image unpack` (layers, user resolution,
# config.json, repack snapshot) against `umoci unpack` (layers, config.json,
# mtree manifest for repack) on the same image, both as root, each run into
# a fresh bundle. The image is built here: a busybox base layer plus a
# layer of the Go source tree (~12k files). Prints the best of $RUNS runs
# of each and the ratio. (bench/unpack.sh measures the layer part alone.)
set -euo pipefail
OCIKIT=${OCIKIT:?set OCIKIT to the ocikit binary}
RUNS=${RUNS:-3}
SRC=${BENCH_SRC:-/usr/local/go/src}
command -v umoci >/dev/null || { echo "umoci not installed (make deps)"; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root (umoci and ocikit unpack with owners)"; exit 1; }

work=$(mktemp -d /var/tmp/ocikit-bench-bundle.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/base/bin" "$work/base/etc"
cp "$(command -v busybox)" "$work/base/bin/busybox"
ln -s busybox "$work/base/bin/sh"
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n' >"$work/base/etc/passwd"
printf 'root:x:0:\nwheel:x:10:user\nuser:x:1000:\n' >"$work/base/etc/group"
mkdir -p "$work/app/srv"
cp -a "$SRC" "$work/app/srv/"

L=$work/layout
"$OCIKIT" image init "$L" >/dev/null
"$OCIKIT" image new "$L:bench" >/dev/null
"$OCIKIT" image add-layer "$L:bench" "$work/base" >/dev/null
"$OCIKIT" image add-layer "$L:bench" "$work/app" >/dev/null
"$OCIKIT" image config "$L:bench" --user user --cmd /bin/sh --workdir /srv >/dev/null
files=$(find "$work/base" "$work/app" | wc -l)
size=$(du -sh "$work/app" | cut -f1)
echo "image: 2 gzip layers, $files files, $size"

# best TOOL-NAME CMD...: run CMD $RUNS times (BUNDLE replaced by a fresh
# path), print the fastest wall time in seconds.
best() {
	local name=$1; shift
	local b="" t0 t1 dt i
	for ((i = 0; i < RUNS; i++)); do
		local out="$work/out-$name-$i"
		sync
		t0=$EPOCHREALTIME
		"${@//BUNDLE/$out}" >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; exit 1; }
		t1=$EPOCHREALTIME
		dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
		rm -rf "$out"
		if [[ -z $b ]] || awk -v d="$dt" -v b="$b" 'BEGIN { exit !(d < b) }'; then b=$dt; fi
	done
	echo "$b"
}

o=$(best ocikit "$OCIKIT" image unpack "$L:bench" BUNDLE)
u=$(best umoci umoci unpack --image "$L:bench" BUNDLE)
printf '%-36s %8.3fs\n' "ocikit image unpack" "$o" "umoci unpack" "$u"
awk -v o="$o" -v u="$u" 'BEGIN { printf "ratio umoci/ocikit: %.2fx\n", u / o }'

