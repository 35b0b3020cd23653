#!/usr/bin/env bash
# make demo: builds an image from Debian's busybox-static with ocikit alone
# and walks it through ocikit's main job end to end.
set -euo pipefail
OCIKIT=${OCIKIT:-$(pwd)/bin/ocikit}
work=$(mktemp -d /tmp/ocikit-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step "$OCIKIT" version
