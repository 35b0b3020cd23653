#!/usr/bin/env bash
# bench/vm.sh: ocikit --vm (each container in its own qemu VM; TCG on
# machines without /dev/kvm). Prints:
#   - the time of `ocikit --vm run` of /bin/true (N runs: min and median),
#   - where a boot's time goes: create (qemu, firmware, kernel, agent,
#     container created in the guest) split by the guest agent's own
#     report (kernel boot until the agent runs; agent until ready), start,
#     the container's exit to the monitor's,
#   - host memory of an idle container (RSS of the monitor and of qemu),
#     IDLE of them side by side.
#
#   OCIKIT=bin/ocikit N=5 IDLE=10 bash bench/vm.sh
#
# The kernel and initramfs are cached (/var/cache/ocikit/vm): the first
# run of a new binary builds its initramfs; a warm-up run pays that.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-5}
IDLE=${IDLE:-10}
command -v qemu-system-x86_64 >/dev/null || { echo "vm bench: no qemu-system-x86_64, skipped"; exit 0; }
bb=$(command -v busybox) || { echo "vm bench: no busybox, skipped"; exit 0; }
work=$(mktemp -d /tmp/ocikit-bench-vm.XXXXXX)
root=$work/state
cleanup() {
	for d in "$root"/*/; do [[ -d $d ]] && "$OCIKIT" --vm --root "$root" delete --force "$(basename "$d")" >/dev/null 2>&1; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/b/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp "$bb" "$work/b/rootfs/bin/busybox"
for a in sh true sleep cat; do ln -s busybox "$work/b/rootfs/bin/$a"; done
(cd "$work/b" && "$OCIKIT" spec && jq '.process.terminal=false | .process.args=["/bin/true"]' config.json >c && mv c config.json)
jq '.process.args=["/bin/sleep","100000"]' "$work/b/config.json" >"$work/b/idle.json"
vm() { "$OCIKIT" --vm --root "$root" "$@"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "accelerator: $([[ -w /dev/kvm ]] && echo kvm || echo tcg), $(nproc) host CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$work/b" && vm run warmup </dev/null >/dev/null)
times=()
for i in $(seq "$N"); do
	s=$EPOCHREALTIME
	(cd "$work/b" && vm run "bench-$i" </dev/null >/dev/null)
	times+=("$(secs "$s" "$EPOCHREALTIME")")
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "run /bin/true: min $(head -1 <<<"$sorted") s, median $(sed -n "$(((N + 1) / 2))p" <<<"$sorted") s over $N runs (${times[*]})"

# One boot, step by step.
s=$EPOCHREALTIME
(cd "$work/b" && vm create split </dev/null >/dev/null 2>&1)
c=$EPOCHREALTIME
vm start split
st=$EPOCHREALTIME
pid=$(jq -r .state.pid "$root/split/state.json")
while [[ -e /proc/$pid ]] && ! grep -q '^Z' <(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null); do sleep 0.01; done
e=$EPOCHREALTIME
agent=$(grep -o 'started at [0-9.]* s, ready at [0-9.]* s' "$root/split/console.log" || true)
down=$(grep -o '\[ *[0-9.]*\] reboot: Power down' "$root/split/console.log" | grep -o '[0-9.]*' | head -1 || true)
vm delete --force split
echo "create $(secs "$s" "$c") s (guest agent $agent; guest powered off at ${down:-?} s uptime), start $(secs "$c" "$st") s, exit seen $(secs "$st" "$e") s later"

# Idle containers side by side. RSS counts the pages qemu's processes
# share (its binary and libraries, about 95 MiB) in each; PSS divides them.
kb() { awk -v k="$1" '$1 == k":" {print $2}' "$2"; }
total=0
ptotal=0
for i in $(seq "$IDLE"); do
	(cd "$work/b" && vm run -d --config idle.json "idle-$i" </dev/null >/dev/null 2>&1)
done
sleep 2
for i in $(seq "$IDLE"); do
	mpid=$(jq -r .state.pid "$root/idle-$i/state.json")
	qpid=$(jq -r .vm.qemuPid "$root/idle-$i/state.json")
	m=$(kb Rss "/proc/$mpid/smaps_rollup")
	q=$(kb Rss "/proc/$qpid/smaps_rollup")
	mp=$(kb Pss "/proc/$mpid/smaps_rollup")
	qp=$(kb Pss "/proc/$qpid/smaps_rollup")
	total=$((total + m + q))
	ptotal=$((ptotal + mp + qp))
	[[ $i == 1 ]] && echo "idle container: monitor $((m / 1024)) MiB RSS, qemu $((q / 1024)) MiB RSS"
done
echo "$IDLE idle containers: $((total / 1024)) MiB RSS, $((ptotal / 1024)) MiB PSS in all ($((ptotal / 1024 / IDLE)) MiB PSS each)"
