#!/bin/sh
# /init of ocikit's cgroup v2 test VM (see run.sh). Runs as PID 1 under
# busybox sh.
#
# Stage 1 (on the initramfs): pivot_root(2) refuses to move away from the
# initial rootfs, and ocikit pivots into every container, so the files are
# copied onto a tmpfs and switch_root makes that the root (stage 2).
#
# Stage 2: mounts the pseudo filesystems and a pure cgroup v2 hierarchy
# (nsdelegate, as systemd mounts it), enables every controller the kernel
# offers in the root's subtree_control, moves itself into a leaf cgroup
# (/vmtest/runner, as a login shell sits in a session scope) and runs
# /vm/checks.sh. Every line starting with VMTEST is for run.sh.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin

if [ "$1" != stage2 ]; then
	/bin/busybox --install -s /bin
	mount -t proc proc /proc
	mount -t tmpfs -o mode=0755 root /newroot
	for f in /*; do
		case $f in
		/proc | /sys | /dev | /newroot) mkdir -p "/newroot$f" ;;
		*) cp -a "$f" /newroot/ ;;
		esac
	done
	umount /proc
	exec switch_root /newroot /init stage2
fi

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t tmpfs -o mode=0755 run /run
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup
hostname vmtest

# The loop driver gives the io.max check block devices (7:N).
if [ -e /vm/modules/loop.ko ]; then
	insmod /vm/modules/loop.ko || echo "VMTEST info insmod loop.ko failed"
fi

read -r up _ </proc/uptime
echo "VMTEST info boot_seconds $up"
echo "VMTEST info kernel $(uname -r)"

cg=/sys/fs/cgroup
enable=
for c in cpu cpuset io memory pids hugetlb; do
	grep -qw "$c" $cg/cgroup.controllers && enable="$enable +$c"
done
echo "VMTEST info controllers$enable"
for d in $cg $cg/vmtest; do
	mkdir -p $d
	for c in $enable; do
		echo "$c" >$d/cgroup.subtree_control || echo "VMTEST info cannot enable $c in $d"
	done
done
mkdir -p $cg/vmtest/runner
echo $$ >$cg/vmtest/runner/cgroup.procs

. /vm/checks.sh
run_checks

read -r end _ </proc/uptime
echo "VMTEST info checks_seconds $(awk -v a="$up" -v b="$end" 'BEGIN { printf "%.1f", b - a }')"
echo "VMTEST done"
sync
poweroff -f
