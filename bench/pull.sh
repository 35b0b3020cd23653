#!/usr/bin/env bash
# bench/pull.sh: `ocikit image copy docker://... oci:...` against `skopeo
# copy` pulling a ~120 MB image of three gzip layers from Debian's
# docker-registry on loopback into an empty layout ($RUNS times each,
# interleaved; issue 8's target: ocikit at most 0.5x skopeo), then a second
# copy into the layout that has every blob (target: at most 0.1x the
# first copy).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/registry.sh
registry_init pull
skopeo copy -q --dest-tls-verify=false oci:"$work/layout":bench docker://$REG/bench/img:v1
src=docker://$REG/bench/img:v1
for ((i = 0; i < RUNS; i++)); do
	run ocikit "$OCIKIT" image copy -q "$src" oci:OUT:v1
	run skopeo skopeo copy -q --src-tls-verify=false "$src" oci:OUT:v1
	# again, into the layouts that have it all now
	run ocikit-again "$OCIKIT" image copy -q "$src" oci:OUT:v1
	run skopeo-again skopeo copy -q --src-tls-verify=false "$src" oci:OUT:v1
	rm -rf "$work"/out-*
done
report "pull-into-empty ocikit skopeo" "pull-again ocikit-again skopeo-again"
awk -v a="$(median ocikit-again)" -v f="$(median ocikit)" 'BEGIN { printf "ocikit second copy / first: %.3fx\n", a / f }'
