#!/usr/bin/env bash
# bench/push.sh: `ocikit image copy oci:... docker://...` against `skopeo
# copy` pushing a ~120 MB image of three gzip layers from a layout to
# Debian's docker-registry on loopback, each run into a new, empty
# registry ($RUNS times each, interleaved; issue 8's target: ocikit at most 0.5x
# skopeo), then a second push to the repository that has every blob
# (target: at most 0.1x the first push). A third client gives the floor
# the registry itself sets: curl, one process per blob, each a monolithic
# POST+PUT of the blob file (no hashing, no client work to speak of).
# Then both clients push into an empty `ocikit image serve` (a registry
# that hashes with the CPU's SHA extensions and is not the bound).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/registry.sh
registry_init push
src=oci:$work/layout:bench
blobs=$work/layout/blobs/sha256
man=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['manifests'][0]['digest'][7:])" "$work/layout/index.json")
parts=$(python3 -c "import json, sys; m = json.load(open(sys.argv[1])); print(' '.join(d['digest'][7:] for d in m['layers'] + [m['config']]))" "$blobs/$man")
# curl_blob HEX: POST an upload session, PUT the blob into it.
curl_blob() {
	local loc sep='?'
	loc=$(curl -sf -D - -o /dev/null -X POST "http://$REG/v2/bench/img/blobs/uploads/" | awk -F': ' 'tolower($1) == "location" { print $2 }' | tr -d '\r')
	[[ $loc == http* ]] || loc=http://$REG$loc
	[[ $loc == *\?* ]] && sep='&'
	curl -sf -X PUT -H 'Content-Type: application/octet-stream' -T "$blobs/$1" "$loc${sep}digest=sha256:$1" -o /dev/null
}
curl_push() {
	local p pids=()
	for p in $parts; do
		curl_blob "$p" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$blobs/$man" "http://$REG/v2/bench/img/manifests/v1" -o /dev/null
}
for ((i = 0; i < RUNS; i++)); do
	registry_start
	run ocikit "$OCIKIT" image copy -q "$src" docker://$REG/bench/img:v1
	run ocikit-again "$OCIKIT" image copy -q "$src" docker://$REG/bench/img:v1
	registry_start
	run skopeo skopeo copy -q --dest-tls-verify=false "$src" docker://$REG/bench/img:v1
	run skopeo-again skopeo copy -q --dest-tls-verify=false "$src" docker://$REG/bench/img:v1
	registry_start
	run curl curl_push
done
# serve_start: an empty `ocikit image serve` on a new port ($REG).
serve_start() {
	serve_stop
	rm -rf "$work/served"
	mkdir "$work/served"
	REG=127.0.0.1:$(loopback_port)
	"$OCIKIT" image serve --addr "$REG" "$work/served" >"$work/serve.log" 2>&1 &
	serve_pid=$!
	await_registry "$work/serve.log"
}
serve_stop() {
	if [[ -n ${serve_pid:-} ]]; then
		kill "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
		serve_pid=
	fi
}
trap 'serve_stop; registry_cleanup' EXIT
for ((i = 0; i < RUNS; i++)); do
	serve_start
	run ocikit-serve "$OCIKIT" image copy -q "$src" docker://$REG/bench/img:v1
	serve_start
	run skopeo-serve skopeo copy -q --dest-tls-verify=false "$src" docker://$REG/bench/img:v1
done
serve_stop
echo "into docker-registry:"
report "push-into-empty ocikit skopeo" "push-again ocikit-again skopeo-again"
awk -v o="$(median ocikit)" -v c="$(median curl)" -v s="$(median skopeo)" 'BEGIN { printf "floor (curl, no client work): %.3fs, %.2fx skopeo; ocikit %.2fx the floor\n", c, c / s, o / c }'
awk -v a="$(median ocikit-again)" -v f="$(median ocikit)" 'BEGIN { printf "ocikit second copy / first: %.3fx\n", a / f }'
echo "into ocikit image serve:"
report "push-into-empty ocikit-serve skopeo-serve"
