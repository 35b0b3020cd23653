#!/usr/bin/env bash
# make conformance: builds the official runtime-tools validation suite
# (github.com/opencontainers/runtime-tools v0.9.0, pinned in this directory's
# own go.mod so ocikit's go.mod stays clean) and runs every program under
# validation/ against a runtime, printing a table and a summary line.
#
#   OCIKIT=/path/to/ocikit conformance/run.sh        # ocikit (default)
#   RUNTIME=runc conformance/run.sh                  # a peer, for comparison
#   RUNTIME=crun conformance/run.sh                  # crun via a private mount ns
#   ONLY='hostname|kill' conformance/run.sh          # a subset (regexp)
#
# A program passes when it exits 0 with at least one "ok" and no "not ok"
# (the measure the project's issue uses).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PATH=/usr/local/go/bin:$PATH
export GOFLAGS=-mod=mod
TIMEOUT=${TIMEOUT:-120}
bin=$here/bin
out=${OUT:-$here/out}
mkdir -p "$bin" "$out"

# Build: every validation program plus runtimetest, static.
cd "$here"
dir=$(go mod download -json github.com/opencontainers/runtime-tools | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
if [[ -z "$dir" ]]; then
	echo "conformance: cannot download runtime-tools" >&2
	exit 2
fi
programs=()
for d in "$dir"/validation/*/; do
	name=$(basename "$d")
	[[ $name == util ]] && continue
	programs+=("$name")
done
if [[ ! -x $bin/runtimetest || $here/go.mod -nt $bin/runtimetest ]]; then
	echo "conformance: building runtimetest and ${#programs[@]} validation programs" >&2
	CGO_ENABLED=0 go build -trimpath -o "$bin/runtimetest" github.com/opencontainers/runtime-tools/cmd/runtimetest || exit 2
	pkgs=()
	for p in "${programs[@]}"; do pkgs+=("github.com/opencontainers/runtime-tools/validation/$p"); done
	CGO_ENABLED=0 go build -trimpath -o "$bin/" "${pkgs[@]}" || exit 2
fi

# The runtime under test.
runtime=${RUNTIME:-${OCIKIT:-$here/../bin/ocikit}}
case "$(basename "$runtime")" in
crun)
	# crun 1.8.1 refuses this host's hybrid layout unless the cgroup2 mount at
	# /sys/fs/cgroup/unified is gone: run each call in a private mount ns.
	real=$(command -v crun)
	runtime=$bin/crun-private-mntns
	printf '#!/bin/sh\nexec unshare -m sh -c '\''umount /sys/fs/cgroup/unified 2>/dev/null; exec %s "$@"'\'' crun "$@"\n' "$real" >"$runtime"
	chmod +x "$runtime"
	;;
esac
runtime=$(command -v "$runtime" || echo "$runtime")
[[ -x $runtime ]] || { echo "conformance: runtime $runtime not found" >&2; exit 2; }

work=$(mktemp -d /tmp/ocikit-conformance.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$bin/runtimetest" "$dir/rootfs-amd64.tar.gz" "$work/"
chmod u+w "$work"/*

printf '%-40s %5s %7s %5s  %s\n' PROGRAM OK "NOT-OK" EXIT RESULT
passed=0 failed=0 total=0
for p in "${programs[@]}"; do
	if [[ -n ${ONLY:-} ]] && ! [[ $p =~ $ONLY ]]; then continue; fi
	total=$((total + 1))
	log=$out/$p.tap
	(cd "$work" && RUNTIME=$runtime timeout "$TIMEOUT" "$bin/$p") >"$log" 2>&1 </dev/null
	rc=$?
	ok=$(grep -cE '^ok ' "$log")
	notok=$(grep -cE '^not ok ' "$log")
	if [[ $rc -eq 0 && $ok -gt 0 && $notok -eq 0 ]]; then
		res=PASS passed=$((passed + 1))
	else
		res=FAIL failed=$((failed + 1))
	fi
	printf '%-40s %5d %7d %5d  %s\n' "$p" "$ok" "$notok" "$rc" "$res"
done
echo "conformance: $(basename "$runtime"): $passed passed, $failed failed (of $total programs; TAP logs in $out)"
