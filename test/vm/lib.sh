# test/vm/lib.sh: what run.sh, criu.sh and systemd.sh share; sourced, not
# run. The caller sets $logname (prefix of its messages) and $timeout_s
# (seconds the VM may take).

log() { echo "$logname: $*" >&2; }
die() {
	log "$*"
	exit 2
}

elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# copy_with_libs copies an executable and the shared libraries ldd lists
# (with the dynamic loader) into the initramfs tree $tree, keeping their
# paths; a static executable brings none.
copy_with_libs() {
	local bin=$1 dest=$2 lib
	install -D -m 0755 "$bin" "$tree$dest"
	for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
		[[ -e $tree$lib ]] && continue
		install -D -m 0755 "$(readlink -f "$lib")" "$tree$lib"
	done
}

# vm_workdir NAME: $work, a new directory removed on exit (kept and named
# with OCIKIT_VM_KEEP).
vm_workdir() {
	work=$(mktemp -d "/tmp/$1.XXXXXX")
	if [[ -z ${OCIKIT_VM_KEEP:-} ]]; then
		trap 'rm -rf "$work"' EXIT
	else
		log "work directory: $work"
	fi
}

# vm_checks_arg prints the kernel argument naming the checks to run
# (OCIKIT_VM_CHECKS, space- or comma-separated), or nothing for all.
vm_checks_arg() {
	[[ -z ${OCIKIT_VM_CHECKS:-} ]] || echo " vmtest.checks=$(echo "$OCIKIT_VM_CHECKS" | tr ' ' ',' | tr -s ,)"
}

# vm_boot QEMU_ARGS...: boots qemu-system-x86_64 with these arguments
# (-nographic: the serial console on stdio, copied to $work/console.log;
# stdin is /dev/null so nothing typed reaches the VM's shell) within
# $timeout_s seconds, prints the VM's time as a VMTEST info line and
# returns 0 when every check passed, 1 when one failed, 2 when the VM did
# not finish (no "VMTEST done").
vm_boot() {
	local start rc=0
	start=$(date +%s.%N)
	timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 "$@" </dev/null |
		tr -d '\r' | tee "$work/console.log" || rc=$?
	echo "VMTEST info vm_seconds $(elapsed "$start")"
	if ((rc == 124 || rc == 137)); then
		log "the VM did not finish within ${timeout_s}s"
		return 2
	fi
	grep -q '^VMTEST done' "$work/console.log" || {
		log "the VM stopped before VMTEST done"
		return 2
	}
	if grep -q '^VMTEST fail' "$work/console.log"; then
		return 1
	fi
	return 0
}

# busybox_applets BB DIR: a containers' root filesystem's programs in DIR:
# the static busybox BB as DIR/bin/busybox and a link for each applet.
busybox_applets() {
	local bb=$1 r=$2 applet
	install -D -m 0755 "$bb" "$r/bin/busybox"
	for applet in $("$bb" --list); do
		[[ $applet == busybox ]] || ln -s busybox "$r/bin/$applet"
	done
}
