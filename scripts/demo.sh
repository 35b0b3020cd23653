#!/usr/bin/env bash
# make demo: builds an image from Debian's busybox-static with ocikit alone,
# then walks it through ocikit's main job end to end: image-layout store,
# validation, unpack to a runtime bundle, running it with ocikit's own
# runtime, repack of a change, and garbage collection.
set -euo pipefail
OCIKIT=${OCIKIT:-$(pwd)/bin/ocikit}
work=$(mktemp -d /tmp/ocikit-demo.XXXXXX)
cleanup() {
	"$OCIKIT" --root "$work/state" delete --force demo >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

# A root filesystem from the host's static busybox.
rootfs=$work/src
mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,root}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in sh ls cat echo id hostname uname ps true sleep; do ln -s busybox "$rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"

L=$work/layout
step "$OCIKIT" version
step "$OCIKIT" image init "$L"
step "$OCIKIT" image new "$L:busybox"
step "$OCIKIT" image add-layer "$L:busybox" "$rootfs" --history-comment "busybox-static from Debian"
step "$OCIKIT" image config "$L:busybox" --entrypoint /bin/sh --cmd -c \
	--cmd 'echo "hello from $(hostname), uid $(id -u), $(ls /bin | wc -l) files in /bin"' \
	--env GREETING=hi --label org.example.demo=true --workdir /root
step "$OCIKIT" image tag "$L:busybox" v1
step "$OCIKIT" image ls "$L"
step "$OCIKIT" image validate "$L:busybox"
printf '\n\033[1m$ %s\033[0m\n' "$OCIKIT image inspect $L:busybox | head -20"
"$OCIKIT" image inspect "$L:busybox" | head -20

B=$work/bundle
step "$OCIKIT" image unpack "$L:busybox" "$B"
printf '\n\033[1m$ %s\033[0m\n' "jq .process.args,.process.env,.process.cwd $B/config.json"
jq -c '.process.args, .process.env, .process.cwd' "$B/config.json"

# The runtime: run the bundle with ocikit itself (no terminal in a script).
jq '.process.terminal = false | .hostname = "ocikit-demo"' "$B/config.json" >"$B/config.json.new"
mv "$B/config.json.new" "$B/config.json"
step "$OCIKIT" --root "$work/state" run --bundle "$B" demo

# Change the root filesystem and repack it as a new layer.
echo "added after unpack" >"$B/rootfs/root/NOTE"
rm "$B/rootfs/bin/uname"
step "$OCIKIT" image repack "$B" "$L:busybox" --history-comment "demo change"
step "$OCIKIT" image validate "$L"
step "$OCIKIT" image ls "$L"
step "$OCIKIT" image rm "$L:v1"
step "$OCIKIT" image gc "$L"
printf '\n\033[1mdemo finished: all steps succeeded\033[0m\n'
