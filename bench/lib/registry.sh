# bench/lib/registry.sh: what the registry benches (pull.sh, push.sh)
# share; sourced, not run. registry_init builds ocikit and the image (three
# gzip layers: the Go toolchain's src, pkg, and the rest of GOROOT with
# random filler, as bench/unpack.sh and copy.sh use GOROOT) and starts
# Debian's docker-registry on a free loopback port with a temporary storage
# directory ($REG is its HOST:PORT); registry_start replaces it with a new,
# empty one (on a new port, so that skopeo's blob info cache, which
# remembers where it has seen blobs, cannot mount them from an earlier
# run). Everything is removed on exit.

registry_init() {
	bench=$1
	RUNS=${RUNS:-3}
	GO=${GO:-go}
	command -v skopeo >/dev/null || { echo "$bench bench: skopeo not installed (make deps)" >&2; exit 1; }
	command -v docker-registry >/dev/null || { echo "$bench bench: docker-registry not installed (make deps)" >&2; exit 1; }
	local workdir=${BENCH_WORKDIR:-/var/tmp} shm_free
	shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')
	if [[ -z ${BENCH_WORKDIR:-} && -n $shm_free ]] && ((shm_free > 3 * 1024 * 1024)); then
		workdir=/dev/shm
	fi
	work=$(mktemp -d "$workdir/ocikit-bench-$bench.XXXXXX")
	trap 'registry_cleanup' EXIT
	if [[ -z ${OCIKIT:-} || ! -x ${OCIKIT:-} ]]; then
		OCIKIT=$work/ocikit
		$GO build -o "$OCIKIT" ./cmd/ocikit
	fi
	$GO build -o "$work/mklayout" ./bench/cmd/mklayout
	local root
	root=$($GO env GOROOT)
	tar --sort=name -czf "$work/l1.tar.gz" -C "$root" src
	tar --sort=name -czf "$work/l2.tar.gz" -C "$root" pkg
	# the rest of GOROOT, and incompressible filler up to ~120 MB in all
	local have fill
	have=$(du -cb "$work"/l[12].tar.gz | awk 'END { print $1 }')
	fill=$(((120 * 1000 * 1000 - have - 13 * 1000 * 1000) / 1000000))
	mkdir -p "$work/filler"
	((fill > 0)) && head -c "${fill}M" /dev/urandom >"$work/filler/random"
	tar --sort=name -czf "$work/l3.tar.gz" -C "$root" --exclude=./src --exclude=./pkg . -C "$work/filler" .
	"$work/mklayout" "$work/layout" bench "$work/l1.tar.gz" "$work/l2.tar.gz" "$work/l3.tar.gz"
	image_size=$(du -cb "$work"/l?.tar.gz | awk 'END { printf "%.0f MB", $1 / 1e6 }')
	registry_start
	echo "work dir: $workdir; image: three gzip layers, $image_size; docker-registry on $REG"
}

registry_start() {
	if [[ -n ${reg_pid:-} ]]; then
		kill "$reg_pid" 2>/dev/null || true
		wait "$reg_pid" 2>/dev/null || true
	fi
	rm -rf "$work/registry"
	REG=127.0.0.1:$(loopback_port)
	cat >"$work/registry.yml" <<-YML
	version: 0.1
	log:
	  level: error
	  accesslog:
	    disabled: true
	storage:
	  filesystem:
	    rootdirectory: $work/registry
	http:
	  addr: $REG
	  secret: ocikit-bench
	YML
	docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
	reg_pid=$!
	await_registry "$work/registry.log"
}

# loopback_port: a port on 127.0.0.1 that nothing listens on.
loopback_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# await_registry LOG: waits up to 10 s for the registry at $REG to answer
# /v2/; else prints LOG, the registry's output, and exits.
await_registry() {
	local i
	for ((i = 0; i < 200; i++)); do
		curl -sf "http://$REG/v2/" >/dev/null && return
		sleep 0.05
	done
	cat "$1"
	exit 1
}

registry_cleanup() {
	if [[ -n ${reg_pid:-} ]]; then
		kill "$reg_pid" 2>/dev/null || true
		wait "$reg_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}

# run NAME CMD...: one timed run, appended to $work/times-NAME; OUT in CMD
# is replaced by $work/out-NAME-$i (i: the run's number, $i of the caller),
# the same for NAME-again, which copies again to where NAME copied.
run() {
	local name=$1; shift
	local t0 t1
	local args=("${@//OUT/$work/out-${name%-again}-$i}")
	sync
	t0=$EPOCHREALTIME
	"${args[@]}" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
	t1=$EPOCHREALTIME
	echo "$t1 - $t0" | bc >>"$work/times-$name"
}

median() { sort -n "$work/times-$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# report ROWS...: each row "LABEL OCIKIT-NAME SKOPEO-NAME", medians and
# ocikit's ratio to skopeo; then each second copy's ratio to ocikit's first.
report() {
	printf '%-26s %10s %10s %10s\n' case ocikit skopeo ratio
	local row label o s
	for row in "$@"; do
		read -r label o s <<<"$row"
		awk -v d="$label" -v o="$(median "$o")" -v s="$(median "$s")" 'BEGIN { printf "%-26s %9.3fs %9.3fs %9.2fx\n", d, o, s, o / s }'
	done
}
