#!/usr/bin/env bash
# Boots a throw-away virtual machine on a PURE cgroup v2 kernel and runs
# ocikit's cgroup checks (test/vm/checks.sh) inside it through the ocikit
# CLI. The development and CI machines are cgroup-hybrid, so this is where
# the v2 code paths (cgroup2 mount, eBPF device filter, cpu.weight, ...) run
# for real.
#
# Usage: test/vm/run.sh [deps|kernel|run]   (default: run)
#   deps    install qemu-system-x86, cpio, jq and busybox-static if missing
#           (apt-get, root) and fetch the kernel
#   kernel  print the path of the kernel, fetching it into the cache first
#   run     build the initramfs, boot it and print the VM's console
#
# The VM prints one line per check on its console:
#   VMTEST plan NAME...          every check it is going to run
#   VMTEST ok NAME
#   VMTEST fail NAME: REASON
#   VMTEST skip NAME: REASON     the VM lacks what the check needs
#   VMTEST info KEY VALUE        measurements (boot_seconds, checks_seconds)
#   VMTEST done
# run exits 0 when the VM reached "VMTEST done" and every check passed, 1
# when a check failed, 2 when the VM did not finish.
#
# Environment:
#   OCIKIT           ocikit binary to test (default: bin/ocikit, built by
#                    `make build` when missing)
#   OCIKIT_VM_KERNEL kernel image to boot (default: Debian's cloud kernel,
#                    see `kernel`)
#   OCIKIT_VM_CACHE  where the kernel package is kept (/var/cache/ocikit-vm)
#   OCIKIT_VM_TIMEOUT seconds before the VM is killed (300)
#   OCIKIT_VM_KEEP   keep the work directory (initramfs, console log)
#   OCIKIT_VM_CHECKS run only these checks (names separated by spaces or
#                    commas; checks that read the limits container need no
#                    other check before them)
#
# The accelerator is TCG (software emulation) on purpose: KVM hangs on the
# development machines.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${OCIKIT_VM_CACHE:-/var/cache/ocikit-vm}
timeout_s=${OCIKIT_VM_TIMEOUT:-300}
# The kernel flavour: Debian's cloud kernel has every cgroup controller,
# BPF device filtering, namespaces, seccomp and an initramfs decompressor
# built in, so the VM needs no modules.
kernel_meta=linux-image-cloud-amd64

logname=vmtest
. "$here/lib.sh"

install_deps() {
	local want=() p
	for p in qemu-system-x86 cpio jq busybox-static; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || want+=("$p")
	done
	((${#want[@]})) || return 0
	[[ $(id -u) == 0 ]] || die "need root to install ${want[*]}"
	log "installing ${want[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
}

# kernel_path prints a kernel image: $OCIKIT_VM_KERNEL, else one already in
# the cache, else the cloud kernel package downloaded with `apt-get download`
# and extracted into the cache (the host's /boot is never touched).
kernel_path() {
	if [[ -n ${OCIKIT_VM_KERNEL:-} ]]; then
		[[ -f $OCIKIT_VM_KERNEL ]] || die "OCIKIT_VM_KERNEL=$OCIKIT_VM_KERNEL: no such file"
		echo "$OCIKIT_VM_KERNEL"
		return
	fi
	local k
	k=$(find_cached_kernel)
	if [[ -z $k ]]; then
		fetch_kernel
		k=$(find_cached_kernel)
		[[ -n $k ]] || die "no kernel image in $cache/root/boot after extracting $kernel_meta"
	fi
	echo "$k"
}

find_cached_kernel() {
	local k
	k=$(ls -1 "$cache"/root/boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1 || true)
	echo "$k"
}

fetch_kernel() {
	local pkg deb
	mkdir -p "$cache"
	# The meta package depends on the versioned image package; resolve it
	# (refreshing the package lists once if they do not know it).
	pkg=$(resolve_kernel_pkg)
	if [[ -z $pkg ]]; then
		log "apt-get update (no $kernel_meta in the package lists)"
		apt-get update -qq
		pkg=$(resolve_kernel_pkg)
	fi
	[[ -n $pkg ]] || die "cannot resolve $kernel_meta to a kernel package"
	log "downloading $pkg into $cache"
	if ! (cd "$cache" && apt-get download -qq "$pkg" 2>/dev/null); then
		apt-get update -qq
		(cd "$cache" && apt-get download -qq "$pkg") || die "apt-get download $pkg failed"
	fi
	deb=$(ls -1 "$cache"/"$pkg"_*.deb | tail -n 1)
	rm -rf "$cache/root.tmp"
	dpkg-deb -x "$deb" "$cache/root.tmp"
	# Keep the kernel, its config and the loop driver; drop the rest of
	# the modules and the package.
	find "$cache/root.tmp/lib/modules" -type f ! -name loop.ko -delete
	rm -rf "$cache/root"
	mv "$cache/root.tmp" "$cache/root"
	rm -f "$deb"
}

resolve_kernel_pkg() {
	apt-cache depends "$kernel_meta" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}


# loop_module prints the loop block driver (uncompressed) of the kernel
# image $1, from the same package tree, if there is one. With it the VM has
# block devices for the io.max check.
loop_module() {
	local ver=${1##*/vmlinuz-} root
	root=$(dirname "$(dirname "$1")")
	ls -1 "$root/lib/modules/$ver/kernel/drivers/block/loop.ko" 2>/dev/null || true
}

build_initramfs() {
	local bb ocikit=$1 out=$2 kernel=$3 mod
	bb=$(command -v busybox) || die "busybox not found (install busybox-static)"
	file -L "$bb" | grep -q 'statically linked' || die "$bb is not static (install busybox-static)"
	command -v jq >/dev/null || die "jq not found"
	tree=$work/tree
	rm -rf "$tree"
	mkdir -p "$tree"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,newroot,vm/rootfs}
	# rl runs the rootless check.
	printf 'root:x:0:0:root:/root:/bin/sh\nrl:x:1000:1000:rootless:/tmp:/bin/sh\n' >"$tree/etc/passwd"
	printf 'root:x:0:\nrl:x:1000:\n' >"$tree/etc/group"

	install -m 0755 "$bb" "$tree/bin/busybox"
	ln -s busybox "$tree/bin/sh"
	install -m 0755 "$here/init.sh" "$tree/init"
	install -m 0644 "$here/checks.sh" "$tree/vm/checks.sh"
	copy_with_libs "$ocikit" /usr/bin/ocikit
	copy_with_libs "$(command -v jq)" /usr/bin/jq
	mod=$(loop_module "$kernel")
	[[ -z $mod ]] || install -D -m 0644 "$mod" "$tree/vm/modules/loop.ko"

	# The containers' root filesystem: busybox and its applets.
	local r=$tree/vm/rootfs
	mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,root,testdev}
	busybox_applets "$bb" "$r"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"

	(cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -1 >"$out"
}

run_vm() {
	local ocikit=${OCIKIT:-$top/bin/ocikit} kernel start append
	if [[ -z ${OCIKIT:-} && ! -x $ocikit ]]; then
		log "building $ocikit"
		make -C "$top" build >/dev/null
	fi
	[[ -x $ocikit ]] || die "OCIKIT=$ocikit: not an executable"
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (test/vm/run.sh deps)"
	command -v cpio >/dev/null || die "cpio not found (test/vm/run.sh deps)"
	kernel=$(kernel_path)

	vm_workdir ocikit-vm
	start=$(date +%s.%N)
	build_initramfs "$ocikit" "$work/initrd.gz" "$kernel"
	log "kernel $kernel, initramfs $(du -h "$work/initrd.gz" | cut -f1), built in $(elapsed "$start")s"

	append="console=ttyS0 panic=-1 quiet$(vm_checks_arg)"
	vm_boot -accel tcg -m 1024 -smp 1 -nographic -no-reboot -nic none \
		-kernel "$kernel" -initrd "$work/initrd.gz" -append "$append"
}


case ${1:-run} in
deps)
	install_deps
	kernel_path >/dev/null
	;;
kernel) kernel_path ;;
run) run_vm ;;
*) die "unknown command ${1}: want deps, kernel or run" ;;
esac
