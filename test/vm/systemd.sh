#!/usr/bin/env bash
# Boots a virtual machine with systemd as PID 1 on pure cgroup v2 and runs
# the checks of ocikit's systemd cgroup driver (test/vm/systemd-checks.sh)
# inside it: create/start/exec/update/pause/resume/delete with
# --systemd-cgroup, the scope's unit properties, a failed create leaving no
# unit, and podman --cgroup-manager systemd --runtime ocikit.
#
# Usage: test/vm/systemd.sh [image|run]   (default: run)
#   image  build the guest's root image into the cache if missing and print
#          its path
#   run    boot it with the ocikit binary and a busybox bundle on a second
#          disk and print the VM's console
#
# The root image is a `debootstrap --variant=minbase bookworm` tree with
# systemd, dbus and podman (from the Debian mirror apt uses on this machine,
# read from /etc/apt/sources.list*), turned into an ext4 image with
# `mke2fs -d` and kept in the cache; a change to this script's package list
# or guest setup (the version below) builds a new one. The VM boots Debian's
# cloud kernel (test/vm/run.sh fetches and caches it; it has NVMe and ext4
# built in, so no initramfs is needed) with the image as an NVMe namespace
# opened with -snapshot: the cached image is never written.
#
# The console lines follow test/vm/run.sh (VMTEST plan|ok|fail|skip|info|
# done); the exit status too: 0 all passed, 1 a check failed, 2 the VM did
# not finish.
#
# Environment:
#   OCIKIT              ocikit binary to test (default: bin/ocikit)
#   OCIKIT_VM_CACHE     where run.sh keeps the kernel (/var/cache/ocikit-vm)
#   OCIKIT_VM_SD_CACHE  where the root image is kept (/var/cache/ocikit/vm-systemd)
#   OCIKIT_VM_TIMEOUT   seconds before the VM is killed (300)
#   OCIKIT_VM_KEEP      keep the work directory
#   OCIKIT_VM_CHECKS    run only these checks (names separated by spaces or
#                       commas; scope-properties to pause-resume need
#                       scope-created before them)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${OCIKIT_VM_SD_CACHE:-/var/cache/ocikit/vm-systemd}
timeout_s=${OCIKIT_VM_TIMEOUT:-300}
# What the guest has. Bump guest_version when the setup below changes.
# debootstrap resolves no virtual package: netavark is podman's
# container-network-stack.
packages=systemd,dbus,dbus-user-session,libseccomp2,podman,netavark,uidmap,catatonit,util-linux,procps
guest_version=1

logname=vmtest-systemd
. "$here/lib.sh"

# mirror prints the Debian mirror apt uses here: the first URI of a source
# for the bookworm suite, in deb822 (.sources) or one-line (.list) format.
mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
			/(^|\n)Suites:[^\n]*(^|[ \t])bookworm([ \t\n]|$)/ {
				for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); print a[2]; exit } }' "$f")
		[[ -n $uri ]] && {
			echo "$uri"
			return
		}
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		uri=$(awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { print $i; exit } }' "$f")
		[[ -n $uri ]] && {
			echo "$uri"
			return
		}
	done
}

image_key() {
	echo "$packages $guest_version" | sha256sum | cut -c1-12
}

# build_image makes the guest's root image: debootstrap, then the setup a
# test VM needs (no getty, no timers, the check runner as a service).
build_image() {
	local img=$1 tree m start
	command -v debootstrap >/dev/null || die "debootstrap not found (scripts/install-deps.sh installs it)"
	command -v mke2fs >/dev/null || die "mke2fs not found (e2fsprogs)"
	m=$(mirror)
	[[ -n $m ]] || die "no bookworm source in /etc/apt/sources.list*"
	mkdir -p "$cache"
	tree=$cache/tree.tmp
	rm -rf "$tree"
	start=$(date +%s.%N)
	log "debootstrap --variant=minbase bookworm ($packages) from $m"
	# The downloaded packages stay in the cache for the next build.
	mkdir -p "$cache/debs"
	debootstrap --variant=minbase --cache-dir="$cache/debs" --include="$packages" bookworm "$tree" "$m" >"$cache/debootstrap.log" 2>&1 ||
		die "debootstrap failed: see $cache/debootstrap.log"
	log "debootstrap took $(elapsed "$start")s"
	setup_guest "$tree"
	local size
	size=$(du -sm "$tree" | cut -f1)
	rm -f "$img.tmp"
	# Room for the containers' state, podman's storage and the journal.
	mke2fs -q -t ext4 -L ocikit-root -d "$tree" "$img.tmp" "$((size + 768))M" >&2 || die "mke2fs -d failed"
	mv "$img.tmp" "$img"
	rm -rf "$tree"
	log "image $img built in $(elapsed "$start")s"
}

setup_guest() {
	local t=$1
	echo vmtest >"$t/etc/hostname"
	: >"$t/etc/machine-id"
	printf '/dev/nvme0n1 / ext4 rw,relatime 0 1\n' >"$t/etc/fstab"
	# The checks run as a oneshot service writing to the serial console,
	# from the second disk (mounted here), and power the VM off.
	cat >"$t/etc/systemd/system/ocikit-vmtest.service" <<'EOF'
[Unit]
Description=ocikit systemd cgroup driver checks
Wants=dbus.service
After=dbus.service local-fs.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /vmtest && mount -o ro /dev/nvme0n2 /vmtest && exec /bin/sh /vmtest/checks.sh'
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
	mkdir -p "$t/etc/systemd/system/multi-user.target.wants"
	ln -sf /etc/systemd/system/ocikit-vmtest.service "$t/etc/systemd/system/multi-user.target.wants/"
	ln -sf /lib/systemd/system/multi-user.target "$t/etc/systemd/system/default.target"
	# Nothing a test VM needs that costs boot time under emulation.
	local u
	for u in getty@tty1.service serial-getty@ttyS0.service apt-daily.timer apt-daily-upgrade.timer \
		dpkg-db-backup.timer e2scrub_all.timer fstrim.timer systemd-tmpfiles-clean.timer \
		podman-auto-update.timer podman-restart.service podman-clean-transient.service \
		systemd-networkd-wait-online.service; do
		ln -sf /dev/null "$t/etc/systemd/system/$u"
	done
	# A user for the rootless check (the --user manager, delegation).
	chroot "$t" /usr/sbin/useradd -m -u 1000 -s /bin/sh rl
	echo 'rl:100000:65536' >"$t/etc/subuid"
	echo 'rl:100000:65536' >"$t/etc/subgid"
	mkdir -p "$t/var/lib/systemd/linger"
	touch "$t/var/lib/systemd/linger/rl"
	# The journal in memory only: the image is opened with -snapshot.
	mkdir -p "$t/etc/systemd/journald.conf.d"
	printf '[Journal]\nStorage=volatile\n' >"$t/etc/systemd/journald.conf.d/vm.conf"
	rm -rf "$t/var/cache/apt/archives/"*.deb "$t/var/lib/apt/lists/"*
}

image_path() {
	local img
	img=$cache/root-$(image_key).ext4
	if [[ ! -f $img ]]; then
		# One build at a time; a second caller waits and finds the image.
		mkdir -p "$cache"
		exec 9>"$cache/.lock"
		flock 9
		[[ -f $img ]] || build_image "$img"
		exec 9>&-
	fi
	echo "$img"
}

# data_disk makes the second disk: the ocikit binary, the checks and a
# busybox bundle for the containers.
data_disk() {
	local ocikit=$1 out=$2 d bb r
	d=$work/data
	mkdir -p "$d/bundle/rootfs"/{bin,etc,proc,sys,dev,tmp,root}
	install -m 0755 "$ocikit" "$d/ocikit"
	install -m 0644 "$here/systemd-checks.sh" "$d/checks.sh"
	if [[ -n ${OCIKIT_VM_CHECKS:-} ]]; then
		echo "$OCIKIT_VM_CHECKS" | tr ',' ' ' >"$d/only"
	fi
	bb=$(command -v busybox) || die "busybox not found (install busybox-static)"
	file -L "$bb" | grep -q 'statically linked' || die "$bb is not static (install busybox-static)"
	r=$d/bundle/rootfs
	busybox_applets "$bb" "$r"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\n' >"$r/etc/group"
	# The configurations, made here with jq (the guest has none):
	# @CGPATH@ is replaced by each check.
	command -v jq >/dev/null || die "jq not found"
	(cd "$work" && "$ocikit" spec && mv config.json spec.json && "$ocikit" spec --rootless && mv config.json rootless-spec.json)
	jq '.process.terminal = false | .process.args = ["sleep", "600"] | .root.readonly = true |
		.linux.cgroupsPath = "@CGPATH@" |
		.linux.resources += {memory: {limit: 67108864, swap: 67108864},
			cpu: {shares: 512, quota: 50000, period: 100000, cpus: "0"}, pids: {limit: 64}} |
		.annotations["org.systemd.property.TimeoutStopSec"] = "uint64 7"' \
		"$work/spec.json" >"$d/config.json"
	# A slice takes no scope properties (TimeoutStopUSec).
	jq 'del(.annotations)' "$d/config.json" >"$d/slice.json"
	jq '.hooks.createRuntime = [{path: "/bin/sh",
		args: ["sh", "-c", "/bin/systemctl is-active ocikit-sd-c6.scope >/tmp/sd-c6-seen; exit 1"]}]' \
		"$d/config.json" >"$d/hook-fail.json"
	jq '.process.terminal = false | .process.args = ["sleep", "600"] | .root.readonly = true |
		.linux.namespaces |= map(select(.type != "cgroup")) | .linux.resources = {pids: {limit: 10}} |
		.linux.uidMappings = [{containerID: 0, hostID: 1000, size: 1}] |
		.linux.gidMappings = [{containerID: 0, hostID: 1000, size: 1}]' \
		"$work/rootless-spec.json" >"$d/rootless.json"
	mke2fs -q -t ext4 -L ocikit-data -d "$d" "$out" "$(($(du -sm "$d" | cut -f1) + 32))M" >&2 || die "mke2fs -d (data) failed"
}

run_vm() {
	local ocikit=${OCIKIT:-$top/bin/ocikit} kernel img
	[[ -x $ocikit ]] || die "OCIKIT=$ocikit: not an executable (make build)"
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
	kernel=$(bash "$here/run.sh" kernel)
	img=$(image_path)
	vm_workdir ocikit-vm-systemd
	data_disk "$ocikit" "$work/data.ext4"
	# One NVMe controller with two namespaces: the root image (nvme0n1,
	# -snapshot keeps it unchanged) and the data disk (nvme0n2).
	vm_boot -accel tcg -m 1536 -smp 2 -nographic -no-reboot -nic none -snapshot \
		-kernel "$kernel" \
		-append "console=ttyS0 root=/dev/nvme0n1 rw rootfstype=ext4 init=/lib/systemd/systemd panic=-1 quiet loglevel=1 systemd.show_status=0 systemd.unified_cgroup_hierarchy=1" \
		-drive "file=$img,if=none,id=root,format=raw" \
		-drive "file=$work/data.ext4,if=none,id=data,format=raw" \
		-device nvme,id=nvme0,serial=ocikit \
		-device nvme-ns,drive=root,bus=nvme0,nsid=1 \
		-device nvme-ns,drive=data,bus=nvme0,nsid=2
}

case ${1:-run} in
image) image_path ;;
run) run_vm ;;
*) die "unknown command ${1}: want image or run" ;;
esac
