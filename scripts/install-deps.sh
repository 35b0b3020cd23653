#!/usr/bin/env bash
# Installs everything ocikit's build, tests, demo and benchmarks need on a
# fresh Debian 12 machine, as root. Idempotent: installs only what is missing.
set -euo pipefail

GO_VERSION=${GO_VERSION:-1.26.8}
PACKAGES=(
	build-essential pkg-config libseccomp-dev libjansson-dev git curl unzip file jq
	busybox-static runc crun umoci skopeo podman buildah uidmap containerd
	docker.io criu iptables docker-registry containernetworking-plugins
	hyperfine bc e2fsprogs iproute2 procps psmisc strace qemu-system-x86 cpio debootstrap xz-utils
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	echo "install-deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go: the machine image ships it in /usr/local/go; a machine without it gets
# the official toolchain from the Go module proxy named by $GOPROXY (the only
# place reachable; its address is the machine's setting, not ours).
export PATH=/usr/local/go/bin:$PATH
if ! command -v go >/dev/null 2>&1; then
	echo "install-deps: installing Go $GO_VERSION from the module proxy" >&2
	proxy=${GOPROXY%%,*}
	[[ $proxy == http* ]] || { echo "install-deps: no Go at /usr/local/go and GOPROXY names no module proxy" >&2; exit 1; }
	tmp=$(mktemp -d)
	curl -fsSL -o "$tmp/go.zip" \
		"${proxy%/}/golang.org/toolchain/@v/v0.0.1-go${GO_VERSION}.linux-amd64.zip"
	unzip -q "$tmp/go.zip" -d "$tmp"
	rm -rf /usr/local/go
	mv "$tmp/golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-amd64" /usr/local/go
	chmod +x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* 2>/dev/null || true
	rm -rf "$tmp"
fi
go version >&2
