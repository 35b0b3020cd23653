#!/usr/bin/env bash
# Runs the runtime-tools validation suite (the one conformance/run.sh runs)
# against ocikit's VM runtime, invoked as `ocikit-vm` (a symbolic link to the
# binary, which means --vm), then against the plain runtime, and prints both
# pass counts side by side. Not in CI: under TCG every container boots a VM,
# so a full run takes tens of minutes.
#
#   OCIKIT=/path/to/ocikit conformance/run-vm.sh
#   ONLY='hostname|kill' conformance/run-vm.sh     # a subset (regexp)
#   SKIP_PLAIN=1 conformance/run-vm.sh             # the VM run only
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ocikit=${OCIKIT:-$here/../bin/ocikit}
ocikit=$(cd "$(dirname "$ocikit")" && pwd)/$(basename "$ocikit")
[[ -x $ocikit ]] || { echo "run-vm: $ocikit not found (go build -o bin/ocikit ./cmd/ocikit)" >&2; exit 2; }
out=${OUT:-$here/out-vm}
mkdir -p "$out"
links=$(mktemp -d /tmp/ocikit-vm-conformance.XXXXXX)
trap 'rm -rf "$links"' EXIT
ln -s "$ocikit" "$links/ocikit-vm"

# Under TCG a VM boot takes seconds; programs that start several containers
# need more than run.sh's default timeout.
export TIMEOUT=${TIMEOUT:-300}
OUT=$out/vm RUNTIME=$links/ocikit-vm bash "$here/run.sh" | tee "$out/vm.txt"
vm=$(sed -n 's/^conformance: .*: \([0-9]*\) passed, \([0-9]*\) failed (of \([0-9]*\).*/\1 \3/p' "$out/vm.txt")
if [[ -z ${SKIP_PLAIN:-} ]]; then
	TIMEOUT=120 OUT=$out/plain RUNTIME=$ocikit bash "$here/run.sh" >"$out/plain.txt"
	plain=$(sed -n 's/^conformance: .*: \([0-9]*\) passed, \([0-9]*\) failed (of \([0-9]*\).*/\1 \3/p' "$out/plain.txt")
	# The programs whose result differs between the two runtimes.
	join <(awk '/PASS$|FAIL$/{print $1, $NF}' "$out/plain.txt" | sort) \
		<(awk '/PASS$|FAIL$/{print $1, $NF}' "$out/vm.txt" | sort) |
		awk '$2 != $3 {printf "differs: %-40s plain %s, vm %s\n", $1, $2, $3}'
	echo "conformance: ocikit ${plain% *} passed, ocikit-vm ${vm% *} passed (of ${vm#* } programs; logs in $out)"
else
	echo "conformance: ocikit-vm ${vm% *} passed (of ${vm#* } programs; logs in $out)"
fi
