#!/usr/bin/env bash
# make conformance, second part: builds the distribution-spec conformance
# suite (github.com/opencontainers/distribution-spec/conformance, pinned in
# this directory's own go.mod so ocikit's go.mod stays clean), serves an
# empty root with `ocikit image serve` on a free loopback port and runs the
# suite against it, once per spec version setting (OCI_VERSION "1.1", the
# released spec, and "dev", which adds upload cancel, required digest
# headers and tag parameters). Prints the pass/fail/skip counts of each run
# and exits 1 if any test FAILed or errored.
#
#   OCIKIT=/path/to/ocikit conformance/distribution/run.sh
#   TARGET=docker-registry conformance/distribution/run.sh   # the peer, for comparison (never fails)
#   VERSIONS=1.1 conformance/distribution/run.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH=/usr/local/go/bin:$PATH
export GOFLAGS=-mod=mod
bin=$here/../bin
out=${OUT:-$here/../out/distribution}
mkdir -p "$bin" "$out"
suite=$bin/distribution-conformance
if [[ ! -x $suite || $here/go.mod -nt $suite ]]; then
	echo "conformance: building the distribution-spec conformance suite" >&2
	(cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$suite" github.com/opencontainers/distribution-spec/conformance) || exit 2
fi
TARGET=${TARGET:-ocikit}
ocikit=${OCIKIT:-$here/../../bin/ocikit}

work=$(mktemp -d /tmp/ocikit-dist-conformance.XXXXXX)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# freeport: a loopback port nothing listens on (a connect is refused).
freeport() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

# start ROOT: serves an empty ROOT, sets addr and pid.
start() {
	local root=$1
	addr=
	case $TARGET in
	ocikit)
		"$ocikit" image serve --addr 127.0.0.1:0 "$root" >"$work/serve.out" 2>"$work/serve.log" &
		pid=$!
		for _ in $(seq 100); do
			addr=$(sed -n 's|^serving .* on http://||p' "$work/serve.out")
			[[ -n $addr ]] && break
			sleep 0.1
		done
		;;
	docker-registry)
		local port
		port=$(freeport)
		cat >"$work/registry.yml" <<-YAML
			version: 0.1
			storage:
			  filesystem:
			    rootdirectory: $root
			  delete:
			    enabled: true
			http:
			  addr: 127.0.0.1:$port
		YAML
		docker-registry serve "$work/registry.yml" >"$work/serve.log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do
			curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && addr=127.0.0.1:$port && break
			sleep 0.1
		done
		;;
	*)
		echo "conformance: unknown TARGET $TARGET" >&2
		exit 2
		;;
	esac
	[[ -n $addr ]] || { echo "conformance: $TARGET did not start" >&2; cat "$work/serve.log" >&2; exit 2; }
}

count() { sed -n "s/^  $1\.*: *\([0-9]*\)$/\1/p" "$2"; }

failed=0
printf '%-16s %-8s %6s %6s %6s %9s %6s %6s\n' TARGET VERSION PASS FAIL SKIP DISABLED ERROR TOTAL
for v in ${VERSIONS:-1.1 dev}; do
	start "$work/root-$v"
	log=$out/$TARGET-$v.txt
	(cd "$work" && OCI_VERSION=$v OCI_REGISTRY=$addr OCI_TLS=disabled \
		OCI_REPO1=conformance/repo1 OCI_REPO2=conformance/repo2 \
		OCI_RESULTS_DIR="$out/$TARGET-$v" timeout "${TIMEOUT:-600}" "$suite") >"$log" 2>"$log.stderr" </dev/null
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
	pass=$(count Pass "$log") fail=$(count FAIL "$log") skip=$(count Skip "$log")
	dis=$(count Disabled "$log") err=$(count Error "$log") total=$(count Total "$log")
	printf '%-16s %-8s %6s %6s %6s %9s %6s %6s\n' "$TARGET" "$v" "${pass:-?}" "${fail:-?}" "${skip:-?}" "${dis:-?}" "${err:-?}" "${total:-?}"
	if [[ -z $total || ${fail:-1} -ne 0 || ${err:-1} -ne 0 ]]; then
		failed=1
		grep -E ': (FAIL|Error)$' "$log" | head -40 >&2
	fi
done
echo "conformance: distribution-spec suite against $TARGET: $( ((failed)) && echo FAILED || echo passed) (reports in $out)"
[[ $TARGET == ocikit ]] || exit 0
exit $failed
