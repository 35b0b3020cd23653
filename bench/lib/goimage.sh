# bench/lib/goimage.sh: what bench/copy.sh, bench/dockerarchive.sh and
# bench/unpack.sh share; sourced, not run. goimage_init NAME GIB: $work (in
# /dev/shm when it has GIB GiB free, else $BENCH_WORKDIR or /var/tmp;
# removed on exit; $WORKDIR names the choice), $OCIKIT (built when unset),
# and the image: $work/layout:bench with one gzip layer of $BENCH_SRC
# (default the Go toolchain directory). run NAME CMD... times one run with
# OUT replaced by a fresh path, after a sync and $SETTLE seconds (default
# 0); median NAME prints the median of NAME's runs.
goimage_init() {
	local name=$1 gib=$2 shm_free
	RUNS=${RUNS:-3}
	GO=${GO:-go}
	SRC=${BENCH_SRC:-$($GO env GOROOT)}
	WORKDIR=${BENCH_WORKDIR:-/var/tmp}
	shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')
	if [[ -z ${BENCH_WORKDIR:-} && -n $shm_free ]] && ((shm_free > gib * 1024 * 1024)); then
		WORKDIR=/dev/shm
	fi
	work=$(mktemp -d "$WORKDIR/ocikit-bench-$name.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	if [[ -z ${OCIKIT:-} ]]; then
		OCIKIT=$work/ocikit
		$GO build -o "$OCIKIT" ./cmd/ocikit
	fi
	$GO build -o "$work/mklayout" ./bench/cmd/mklayout
	tar --sort=name -czf "$work/layer.tar.gz" -C "$SRC" .
	"$work/mklayout" "$work/layout" bench "$work/layer.tar.gz"
}

run() {
	local name=$1; shift
	local out=$work/out-$name t0 t1
	rm -rf "$out" "$out.tar"
	sync
	sleep "${SETTLE:-0}"
	local args=("${@//OUT/$out}")
	t0=$EPOCHREALTIME
	"${args[@]}" >/dev/null 2>"$work/err-$name" || { cat "$work/err-$name"; exit 1; }
	t1=$EPOCHREALTIME
	echo "$t1 - $t0" | bc >>"$work/times-$name"
}

median() { sort -n "$work/times-$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
