#!/usr/bin/env bash
# bench/serve.sh: `ocikit image serve` against Debian's docker-registry
# (CNCF distribution 2.8, filesystem storage) under load: $CLIENTS (20)
# concurrent `skopeo copy` pulls of one image of three gzip layers (the Go
# toolchain's src, its pkg, and the rest of it with 56 MB of random bytes;
# about 125 MB, built by bench/cmd/mklayout), each into a fresh OCI layout. Both registries serve
# on loopback from a temporary directory; ocikit serves the layout as it
# is, docker-registry gets it pushed by skopeo. $RUNS (3) interleaved runs
# per registry; prints the median total wall time of each and ocikit's
# ratio (issue 8's target: at most 1.0), and the CPU time each registry
# process spent over all its runs (less noisy on a shared machine: the
# clients dominate the wall time).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-20}
GO=${GO:-go}
SRC=${BENCH_SRC:-$($GO env GOROOT)}
for tool in skopeo docker-registry curl; do
	command -v $tool >/dev/null || { echo "$tool not installed (make deps)"; exit 1; }
done
WORKDIR=${BENCH_WORKDIR:-/var/tmp}
shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')
if [[ -z ${BENCH_WORKDIR:-} && -n $shm_free ]] && ((shm_free > 6 * 1024 * 1024)); then
	WORKDIR=/dev/shm
fi
work=$(mktemp -d "$WORKDIR/ocikit-bench-serve.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
if [[ -z ${OCIKIT:-} ]]; then
	OCIKIT=$work/ocikit
	$GO build -o "$OCIKIT" ./cmd/ocikit
fi
$GO build -o "$work/mklayout" ./bench/cmd/mklayout
tar --sort=name -czf "$work/l1.tar.gz" -C "$SRC" src
tar --sort=name -czf "$work/l2.tar.gz" -C "$SRC" pkg
mkdir "$work/rest"
head -c 56000000 /dev/urandom >"$work/rest/random.bin"
tar --sort=name -czf "$work/l3.tar.gz" -C "$SRC" --exclude=./src --exclude=./pkg . -C "$work/rest" random.bin
rm -rf "$work/rest"
"$work/mklayout" "$work/layout" bench "$work"/l{1,2,3}.tar.gz
size=$(du -cb "$work"/l{1,2,3}.tar.gz | awk 'END { printf "%.0f MB", $1 / 1e6 }')

# freeport: a loopback port nothing listens on (a connect is refused).
freeport() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}
waitup() { for _ in $(seq 100); do curl -fs "http://$1/v2/" >/dev/null && return 0; sleep 0.1; done; echo "registry at $1 did not start" >&2; exit 1; }

# ocikit serves a copy of the layout as repository bench/img.
"$OCIKIT" image copy -q "$work/layout:bench" "$work/ocikit-root/bench/img:bench"
oport=$(freeport)
"$OCIKIT" image serve --addr "127.0.0.1:$oport" "$work/ocikit-root" >"$work/ocikit.log" 2>&1 &
pids+=($!)
opid=$!
waitup "127.0.0.1:$oport"

dport=$(freeport)
cat >"$work/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/dreg-root
http:
  addr: 127.0.0.1:$dport
YAML
docker-registry serve "$work/registry.yml" >"$work/dreg.log" 2>&1 &
pids+=($!)
dpid=$!
waitup "127.0.0.1:$dport"
skopeo copy -q --dest-tls-verify=false "oci:$work/layout:bench" "docker://127.0.0.1:$dport/bench/img:bench"
echo "work dir: $WORKDIR; image: three gzip layers, $size; $CLIENTS concurrent skopeo pulls"

# pulls NAME ADDR: $CLIENTS concurrent pulls, total wall time appended.
pulls() {
	local name=$1 addr=$2 t0 t1 i fail=0
	rm -rf "$work/pull"
	mkdir -p "$work/pull"
	sync
	t0=$EPOCHREALTIME
	local ps=()
	for ((i = 0; i < CLIENTS; i++)); do
		skopeo copy -q --src-tls-verify=false "docker://$addr/bench/img:bench" "oci:$work/pull/$i:bench" 2>"$work/pull/err-$i" &
		ps+=($!)
	done
	for p in "${ps[@]}"; do wait "$p" || fail=1; done
	t1=$EPOCHREALTIME
	if ((fail)); then cat "$work"/pull/err-*; exit 1; fi
	echo "$t1 - $t0" | bc >>"$work/times-$name"
}
# cpu PID: user+system CPU seconds the process has used.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
median() { sort -n "$work/times-$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

ocpu0=$(cpu "$opid") dcpu0=$(cpu "$dpid")
# Interleaved, alternating which goes first.
for ((r = 0; r < RUNS; r++)); do
	if ((r % 2 == 0)); then
		pulls ocikit "127.0.0.1:$oport"
		pulls docker-registry "127.0.0.1:$dport"
	else
		pulls docker-registry "127.0.0.1:$dport"
		pulls ocikit "127.0.0.1:$oport"
	fi
done
rm -rf "$work/pull"
ocpu=$(echo "$(cpu "$opid") - $ocpu0" | bc) dcpu=$(echo "$(cpu "$dpid") - $dcpu0" | bc)
o=$(median ocikit) d=$(median docker-registry)
printf '%-34s %10s %16s %8s\n' "" ocikit docker-registry ratio
awk -v n="$CLIENTS" -v o="$o" -v d="$d" 'BEGIN { printf "%-34s %9.2fs %15.2fs %7.2fx\n", n " concurrent skopeo pulls (total)", o, d, o / d }'
awk -v r="$RUNS" -v o="$ocpu" -v d="$dcpu" 'BEGIN { printf "%-34s %9.2fs %15.2fs %7.2fx\n", "registry CPU time (" r " runs)", o, d, o / d }'
echo "runs (s): ocikit $(sort -n "$work/times-ocikit" | xargs printf '%.2f ' ); docker-registry $(sort -n "$work/times-docker-registry" | xargs printf '%.2f ')"
