#!/usr/bin/env bash
# bench/validate.sh: `ocikit image validate` on a layout of $IMAGES (default
# 1000) tagged images. Each image has its own config, manifest and small
# top layer over one shared base layer (busybox), so a full validation reads
# and hashes 2*IMAGES+1 layers, configs and manifests plus index.json. The
# layout is written by this script with tar, gzip and sha256sum (no ocikit
# code involved), so the validator is measured on foreign input.
#
# No peer validates image layouts (oci-image-tool is unmaintained and not
# packaged); `umoci ls`, `skopeo inspect` of one tag and `ocikit image ls`
# are printed for scale. Prints the best of $RUNS runs of each.
set -euo pipefail
OCIKIT=${OCIKIT:?set OCIKIT to the ocikit binary}
RUNS=${RUNS:-3}
IMAGES=${IMAGES:-1000}

work=$(mktemp -d /var/tmp/ocikit-bench-validate.XXXXXX)
trap 'rm -rf "$work"' EXIT
L=$work/layout
mkdir -p "$L/blobs/sha256" "$work/tmp"
printf '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"

# The generation is batched (one sha256sum, gzip, stat and rename per phase
# rather than per file): forks dominate on a busy machine.

# store DIR: move every file of DIR into blobs/ under its digest; fill
# D[name] and S[name] with each file's digest and size.
declare -A D S
store() {
	local sum name size
	while read -r sum name; do D[${name##*/}]=sha256:$sum; done < <(cd "$1" && sha256sum -- *)
	while read -r size name; do S[${name##*/}]=$size; done < <(cd "$1" && stat -c '%s %n' -- *)
	(cd "$1" && for f in *; do printf '%s %s\n' "$f" "${D[$f]#sha256:}"; done) |
		perl -ne 'chomp; my ($f, $d) = split / /; rename("'"$1"'/$f", "'"$L"'/blobs/sha256/$d") or die "rename $f: $!"'
}

echo "generating a layout of $IMAGES images..."
t0=$EPOCHREALTIME
mkdir -p "$work/base/bin" "$work/base/etc" "$work/tars" "$work/configs" "$work/manifests"
if command -v busybox >/dev/null; then cp "$(command -v busybox)" "$work/base/bin/busybox"; fi
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/base/etc/passwd"
tarflags=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner)
tar -C "$work/base" "${tarflags[@]}" -cf "$work/tars/base" .
for ((i = 0; i < IMAGES; i++)); do
	mkdir -p "$work/top/$i/srv"
	printf 'image %d\n' "$i" >"$work/top/$i/srv/id"
	tar -C "$work/top/$i" "${tarflags[@]}" -cf "$work/tars/$i" .
done
declare -A DIFF
while read -r sum name; do DIFF[${name##*/}]=sha256:$sum; done < <(cd "$work/tars" && sha256sum -- *)
gzip -n "$work"/tars/*
store "$work/tars"
base_d=${D[base.gz]} base_s=${S[base.gz]}
for ((i = 0; i < IMAGES; i++)); do
	printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin","IMAGE=%d"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["%s","%s"]},"history":[{"created_by":"base"},{"created_by":"image %d"}]}' \
		"$i" "${DIFF[base]}" "${DIFF[$i]}" "$i" >"$work/configs/c$i"
done
store "$work/configs"
for ((i = 0; i < IMAGES; i++)); do
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
		"${D[c$i]}" "${S[c$i]}" "$base_d" "$base_s" "${D[$i.gz]}" "${S[$i.gz]}" >"$work/manifests/m$i"
done
store "$work/manifests"
{
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":['
	for ((i = 0; i < IMAGES; i++)); do
		((i > 0)) && printf ','
		printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"img-%d"}}' "${D[m$i]}" "${S[m$i]}" "$i"
	done
	printf ']}'
} >"$L/index.json"
t1=$EPOCHREALTIME
printf 'layout: %d images, %d blobs, %s, generated in %.1fs\n' "$IMAGES" "$(ls "$L/blobs/sha256" | wc -l)" "$(du -sh "$L" | cut -f1)" "$(echo "$t1 - $t0" | bc)"

# best CMD...: the best wall time of $RUNS runs, in seconds.
best() {
	local b="" s e t
	for ((r = 0; r < RUNS; r++)); do
		s=$EPOCHREALTIME
		"$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; return 1; }
		e=$EPOCHREALTIME
		t=$(echo "$e - $s" | bc)
		if [[ -z $b ]] || (($(echo "$t < $b" | bc))); then b=$t; fi
	done
	echo "$b"
}

"$OCIKIT" image validate "$L" | tail -1
v=$(best "$OCIKIT" image validate "$L")
vt=$(best "$OCIKIT" image validate "$L:img-$((IMAGES / 2))")
va=$(best "$OCIKIT" image validate --all-blobs --layers "$L")
ls_o=$(best "$OCIKIT" image ls "$L")
printf '%-52s %8.3fs\n' "ocikit image validate DIR ($IMAGES images)" "$v"
printf '%-52s %8.3fs\n' "ocikit image validate DIR:TAG (one image)" "$vt"
printf '%-52s %8.3fs\n' "ocikit image validate --all-blobs --layers DIR" "$va"
printf '%-52s %8.3fs\n' "ocikit image ls DIR" "$ls_o"
if command -v umoci >/dev/null; then
	printf '%-52s %8.3fs\n' "umoci ls --layout DIR (index.json only)" "$(best umoci ls --layout "$L")"
fi
if command -v skopeo >/dev/null; then
	printf '%-52s %8.3fs\n' "skopeo inspect oci:DIR:TAG (one image)" "$(best skopeo inspect "oci:$L:img-$((IMAGES / 2))")"
fi
printf 'per image: %.2f ms\n' "$(echo "$v * 1000 / $IMAGES" | bc -l)"
