#!/usr/bin/env bash
# critest.sh: the CRI validation suite (critest from sigs.k8s.io/cri-tools
# v1.37.0, pinned in this directory's go.mod) against a private containerd
# whose runc shim runs each runtime in turn, as root:
#
#   test/cri/critest.sh                      # runc, then ocikit (bin/ocikit, built)
#   RUNTIMES=ocikit test/cri/critest.sh      # one runtime
#
# Images are built from busybox with ocikit and served by a local registry
# through containerd's mirror configuration (see TestCritest in
# test/integration/critest_test.go). The counts side by side and the specs
# ocikit fails that runc passes land in test/cri/out/summary.md; the JUnit
# reports and critest's logs beside it. Takes tens of minutes: not part of
# make test.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PATH=/usr/local/go/bin:$PATH
cd "$root"
go build -o bin/ocikit ./cmd/ocikit
out=${OUT:-$here/out}
mkdir -p "$out"
OCIKIT_BIN=$root/bin/ocikit OCIKIT_CRITEST=${RUNTIMES:-runc,ocikit} OCIKIT_CRITEST_OUT=$out \
	go test -count=1 -timeout 180m -run '^TestCritest$' -v ./test/integration/ 2>&1 | tee "$out/go-test.log"
echo "critest: results in $out/summary.md"
