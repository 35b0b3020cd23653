#!/usr/bin/env bash
# Boots the test VM of run.sh (Debian's cloud kernel, pure cgroup v2, the
# same kernel cache) with CRIU, its shared libraries and runc added to the
# initramfs, and runs ocikit's checkpoint/restore checks (criu-checks.sh)
# inside it. The host kernel may be one CRIU cannot handle (Debian 12's
# CRIU 3.17 on kernel 6.18: "vdso: Failed to fill self vdso symtable");
# Debian 12's own kernel is one it can.
#
# Usage: test/vm/criu.sh [run]
#
# Output and exit status as run.sh's (VMTEST plan/ok/fail/skip/info/done;
# 0 all passed, 1 a check failed, 2 the VM did not finish). The "info"
# lines carry the checkpoint and restore times of ocikit and runc.
#
# Environment: OCIKIT, OCIKIT_VM_KERNEL, OCIKIT_VM_CACHE, OCIKIT_VM_KEEP
# and OCIKIT_VM_CHECKS as for run.sh; OCIKIT_VM_TIMEOUT defaults to 480;
# OCIKIT_VM_ROUNDS is how many times times-64m measures each runtime (1).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${OCIKIT_VM_CACHE:-/var/cache/ocikit-vm}
timeout_s=${OCIKIT_VM_TIMEOUT:-480}
# The modules CRIU needs that the cloud kernel builds as modules, in load
# order: the socket diag modules it collects sockets with (`criu check`:
# "Diag module missing"), netfilter and nf_tables for its network lock
# (kerndat probes nftables through libnftables), conntrack over netlink
# (dumped with a network namespace: EINVAL without it).
criu_modules="net/ipv4/inet_diag net/ipv4/tcp_diag net/ipv4/udp_diag net/ipv4/raw_diag
net/unix/unix_diag net/netlink/netlink_diag net/packet/af_packet_diag
net/netfilter/x_tables net/ipv4/netfilter/ip_tables net/ipv4/netfilter/iptable_filter
net/netfilter/xt_mark lib/libcrc32c net/netfilter/nfnetlink net/netfilter/nf_tables
net/ipv4/netfilter/nf_defrag_ipv4 net/ipv6/netfilter/nf_defrag_ipv6 net/netfilter/nf_conntrack
net/netfilter/nf_conntrack_netlink drivers/net/veth drivers/net/tun"

logname=vmtest
. "$here/lib.sh"


# modules_dir KERNEL prints a directory holding criu_modules for the
# kernel image KERNEL: run.sh keeps only the loop driver of the kernel
# package, so the package of the same version is fetched once more
# (apt-get download) and the modules above are kept in the cache.
modules_dir() {
	local ver=${1##*/vmlinuz-} dir deb m
	dir=$cache/criu-modules/$ver
	if [[ ! -e $dir/.complete ]]; then
		log "fetching linux-image-$ver for CRIU's modules"
		rm -rf "$dir" "$cache/criu-modules/tmp"
		mkdir -p "$cache/criu-modules/tmp" "$dir"
		(cd "$cache/criu-modules/tmp" && apt-get download -qq "linux-image-$ver" 2>/dev/null) ||
			(cd "$cache/criu-modules/tmp" && apt-get update -qq && apt-get download -qq "linux-image-$ver") ||
			die "apt-get download linux-image-$ver failed"
		deb=$(ls -1 "$cache"/criu-modules/tmp/*.deb | head -n 1)
		dpkg-deb -x "$deb" "$cache/criu-modules/tmp/x"
		for m in $criu_modules; do
			install -m 0644 "$cache/criu-modules/tmp/x/lib/modules/$ver/kernel/$m.ko" "$dir/" ||
				die "$m.ko not in linux-image-$ver"
		done
		echo "$criu_modules" | tr ' \n' '\n\n' | sed -n 's|.*/||p' >"$dir/order"
		rm -rf "$cache/criu-modules/tmp"
		touch "$dir/.complete"
	fi
	echo "$dir"
}

build_initramfs() {
	local bb ocikit=$1 out=$2 kernel=$3 criu runc mods
	bb=$(command -v busybox) || die "busybox not found (install busybox-static)"
	file -L "$bb" | grep -q 'statically linked' || die "$bb is not static (install busybox-static)"
	command -v jq >/dev/null || die "jq not found"
	criu=$(command -v criu) || die "criu not found (install criu)"
	[[ -d /usr/lib/x86_64-linux-gnu/xtables ]] || die "no iptables extensions (install iptables)"
	tree=$work/tree
	rm -rf "$tree"
	mkdir -p "$tree"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,newroot,vm/rootfs}
	printf 'root:x:0:0:root:/root:/bin/sh\nrl:x:1000:1000:rootless:/tmp:/bin/sh\n' >"$tree/etc/passwd"
	printf 'root:x:0:\nrl:x:1000:\n' >"$tree/etc/group"

	install -m 0755 "$bb" "$tree/bin/busybox"
	ln -s busybox "$tree/bin/sh"
	# init.sh sources /vm/checks.sh and calls run_checks: criu-checks.sh,
	# which reuses the helpers of the cgroup checks.
	install -m 0755 "$here/init.sh" "$tree/init"
	install -m 0644 "$here/checks.sh" "$tree/vm/cgroup-checks.sh"
	install -m 0644 "$here/criu-checks.sh" "$tree/vm/checks.sh"
	copy_with_libs "$ocikit" /usr/bin/ocikit
	copy_with_libs "$(command -v jq)" /usr/bin/jq
	copy_with_libs "$criu" /usr/sbin/criu
	# CRIU locks a container's network namespace during a dump with
	# iptables-restore and ip6tables-restore and saves its rules with
	# iptables-save and ip6tables-save (its default network lock; a
	# "network-lock" line in a configuration file read over RPC crashes
	# CRIU 3.17): Debian's nf_tables flavour and its extensions.
	local xt
	xt=$(readlink -f "$(command -v iptables-restore)") || die "iptables-restore not found (install iptables)"
	copy_with_libs "$xt" /usr/sbin/xtables-nft-multi
	local t
	for t in iptables-restore ip6tables-restore iptables-save ip6tables-save; do
		ln -s xtables-nft-multi "$tree/usr/sbin/$t"
	done
	mkdir -p "$tree/usr/lib/x86_64-linux-gnu"
	cp -a /usr/lib/x86_64-linux-gnu/xtables "$tree/usr/lib/x86_64-linux-gnu/"
	# CRIU saves and restores the contents of a container's tmpfs mounts
	# (/dev) with GNU tar's options (busybox tar has too few).
	copy_with_libs "$(command -v tar)" /usr/bin/tar
	# and a network namespace's addresses and routes with iproute2's ip
	# (ip addr save, ip route save).
	copy_with_libs "$(command -v ip)" /usr/sbin/ip
	# The console socket of the terminal check, a static Go program.
	if command -v go >/dev/null; then
		(cd "$top" && CGO_ENABLED=0 go build -o "$tree/usr/bin/consock" ./test/vm/consock) ||
			die "go build ./test/vm/consock failed"
	fi
	mods=$(modules_dir "$kernel")
	mkdir -p "$tree/vm/criu-modules"
	cp "$mods"/*.ko "$mods/order" "$tree/vm/criu-modules/"
	# setcap gives a copy of criu CAP_CHECKPOINT_RESTORE for the rootless
	# check (file capabilities do not survive cpio).
	if command -v setcap >/dev/null; then
		copy_with_libs "$(command -v setcap)" /usr/sbin/setcap
	fi
	if runc=$(command -v runc); then
		copy_with_libs "$runc" /usr/sbin/runc
	fi

	local r=$tree/vm/rootfs
	mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,root,data}
	busybox_applets "$bb" "$r"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"

	(cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -1 >"$out"
}

run_vm() {
	local ocikit=${OCIKIT:-$top/bin/ocikit} kernel start end rc append
	if [[ -z ${OCIKIT:-} && ! -x $ocikit ]]; then
		log "building $ocikit"
		make -C "$top" build >/dev/null
	fi
	[[ -x $ocikit ]] || die "OCIKIT=$ocikit: not an executable"
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (test/vm/run.sh deps)"
	command -v cpio >/dev/null || die "cpio not found (test/vm/run.sh deps)"
	# run.sh's kernel and cache.
	kernel=$(bash "$here/run.sh" kernel) || die "no kernel"

	vm_workdir ocikit-vm-criu
	start=$(date +%s.%N)
	build_initramfs "$ocikit" "$work/initrd.gz" "$kernel"
	log "kernel $kernel, initramfs $(du -h "$work/initrd.gz" | cut -f1), built in $(elapsed "$start")s"

	append="console=ttyS0 panic=-1 quiet$(vm_checks_arg)"
	if [[ -n ${OCIKIT_VM_ROUNDS:-} ]]; then
		append+=" vmtest.rounds=$OCIKIT_VM_ROUNDS"
	fi
	vm_boot -accel tcg -m 1536 -smp 1 -nographic -no-reboot -nic none \
		-kernel "$kernel" -initrd "$work/initrd.gz" -append "$append"
}


case ${1:-run} in
run) run_vm ;;
*) die "unknown command ${1}: want run" ;;
esac
