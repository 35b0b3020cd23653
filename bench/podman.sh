#!/usr/bin/env bash
# bench/podman.sh: N `podman run --rm IMAGE true` with ocikit, crun and
# runc as podman's OCI runtime (--runtime), the order rotating each round
# so that the load of a shared machine hits all alike; prints ms per
# container and the ratio to crun. The whole path is timed: podman, its
# storage (vfs), conmon, the runtime's create, start and delete, and
# podman's cleanup. Podman's configuration is the runtime's input here
# (its seccomp profile, a sysctl, /dev/shm, ...), which is what a user
# who swaps runtimes under podman sees.
#
#   OCIKIT=bin/ocikit N=10 bash bench/podman.sh
#
# Podman keeps its store in the work directory, with no network
# (--network none) and the cgroupfs manager, in a private mount namespace
# without the cgroup2 mount at /sys/fs/cgroup/unified, which crun 1.8
# refuses on this hybrid host. The image is busybox, imported from a tar.
# This host's hard RLIMIT_NOFILE and RLIMIT_NPROC are below podman's
# defaults, hence the --ulimit flags.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-10}
command -v podman >/dev/null || { echo "podman bench: podman missing (apt-get install podman)" >&2; exit 1; }
. "$here/lib/runtimes.sh"
runtimes_init podman
# podman refuses a runroot longer than 50 characters: $work is short.
make_rootfs "$work/rootfs"
tar -C "$work/rootfs" -cf "$work/image.tar" .

cat >"$work/loop.sh" <<SH
$loop_prelude
SH
cat >>"$work/loop.sh" <<'SH'
n=$1 work=$2; shift 2
pod=(podman --root "$work/store" --runroot "$work/run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend file)
"${pod[@]}" import -q "$work/image.tar" localhost/ocikit-bench:latest >/dev/null
one() { # one RUNTIME
	"${pod[@]}" --runtime "$1" run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 localhost/ocikit-bench /bin/true ||
		{ echo "podman run with $1 failed" >&2; return 1; }
}
timed_rounds "$n" one "$@"
"${pod[@]}" rmi -a -f >/dev/null 2>&1 || true
SH
out=$(unshare -m bash "$work/loop.sh" "$N" "$work" "${runtimes[@]}")
print_ratios "podman run --rm IMAGE true, $N runs each" ms/container 1000 <<<"$out"
