#!/usr/bin/env bash
# make bench: runs every benchmark script in bench/ (unpack, repack, runtime,
# layout, copy, pull and push against docker-registry, serve, ...) one after
# the other. Each runs ocikit and its peers side by side in the same run and
# prints times and ratios. Timings are never part
# of `make test`: this machine is shared and noisy.
#
#   make bench                 # all
#   BENCH='runtime' make bench # the scripts whose name matches
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export OCIKIT=${OCIKIT:-$here/../bin/ocikit}
export PATH=/usr/local/go/bin:$PATH
status=0
for s in "$here"/*.sh; do
	name=$(basename "$s" .sh)
	[[ $name == run ]] && continue
	if [[ -n ${BENCH:-} ]] && ! [[ $name =~ $BENCH ]]; then continue; fi
	printf '\n== bench: %s ==\n' "$name"
	bash "$s" || { echo "bench $name failed" >&2; status=1; }
done
exit $status
