#!/usr/bin/env bash
# bench/push.sh: `ocikit image copy oci:... docker://...` against `skopeo
# copy` pushing a ~120 MB image of three gzip layers from a layout to
# Debian's docker-registry on loopback, each run into a new, empty
# registry ($RUNS times each, interleaved; issue 8's target: ocikit at most 0.5x
# skopeo), then a second push to the repository that has every blob
# (target: at most 0.1x the first push).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/registry.sh
registry_init push
src=oci:$work/layout:bench
for ((i = 0; i < RUNS; i++)); do
	registry_start
	run ocikit "$OCIKIT" image copy -q "$src" docker://$REG/bench/img:v1
	run ocikit-again "$OCIKIT" image copy -q "$src" docker://$REG/bench/img:v1
	registry_start
	run skopeo skopeo copy -q --dest-tls-verify=false "$src" docker://$REG/bench/img:v1
	run skopeo-again skopeo copy -q --dest-tls-verify=false "$src" docker://$REG/bench/img:v1
done
report "push-into-empty ocikit skopeo" "push-again ocikit-again skopeo-again"
awk -v a="$(median ocikit-again)" -v f="$(median ocikit)" 'BEGIN { printf "ocikit second copy / first: %.3fx\n", a / f }'
