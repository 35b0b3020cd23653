# Checks of ocikit on a pure cgroup v2 host, sourced by /init (init.sh) in
# the test VM, which has mounted cgroup2 at /sys/fs/cgroup and sits in
# /vmtest/runner. Every check drives the ocikit CLI (spec, create, start,
# run, state, list, kill, delete) on bundles whose config.json is
# `ocikit spec` edited with jq, and looks at the result from outside (the
# cgroup files) or from inside (the container's output).
#
# A check is a function check_NAME (dashes as underscores) run in a
# subshell: it returns normally on success and calls fail with a one-line
# reason otherwise. run_checks prints "VMTEST ok NAME" or "VMTEST fail
# NAME: REASON" for each, in the order of PLAN, and force-deletes whatever
# containers a check left.
#
# Every ocikit or jq run costs a few tenths of a second under emulation, so
# the static limits share one container ("limits", see limits_dir), created
# by the first check that needs it and deleted by delete-removes-cgroup.

CG=/sys/fs/cgroup
ROOTFS=/vm/rootfs
STATE=/run/ocikit
PLAN="spec run-exit-status lifecycle list-and-state memory-max memory-low
memory-swap memory-enforced memory-charged pids-max pids-enforced cpu-max cpu-burst
cpu-weight cpuset io-weight io-max unified hugetlb-max
devices-default-deny devices-allow-rule cgroupns cgroupspath-relative
cgroupspath-absolute kill-all rootless-delegated rootless-undelegated
delete-force-running
pause-resume update events-oom exec delete-removes-cgroup"

# oc runs the CLI with a deadline: a hanging command fails its check
# instead of stalling the whole VM.
oc() { timeout 60 ocikit --root "$STATE" "$@"; }

fail() {
	echo "$*" >/tmp/vmtest.reason
	exit 1
}

# info KEY VALUE reports a measurement (a "VMTEST info" line).
info() { echo "$1 $2" >>/tmp/vmtest.info; }

# skip ends a check whose prerequisite the VM lacks.
skip() {
	echo "$*" >/tmp/vmtest.reason
	exit 77
}

# bundle NAME JQ: creates /vm/b/NAME with the config.json of `ocikit spec`
# (written once into /vm/base) whose root is the shared busybox rootfs,
# without a terminal, edited by the jq filter JQ; prints the bundle's path.
bundle() {
	if [ ! -e /vm/base/config.json ]; then
		mkdir -p /vm/base
		oc spec -b /vm/base >/tmp/vmtest.spec.out 2>&1 || fail "ocikit spec: $(tail -n 1 /tmp/vmtest.spec.out)"
	fi
	b=/vm/b/$1
	rm -rf "$b"
	mkdir -p "$b"
	jq --arg root "$ROOTFS" ".root.path = \$root | .process.terminal = false | $2" \
		/vm/base/config.json >"$b/config.json" 2>/tmp/vmtest.jq.err ||
		fail "jq edit of $1's config: $(head -n 1 /tmp/vmtest.jq.err)"
	echo "$b"
}

# script NAME writes standard input to /s/NAME.sh in the containers' rootfs.
script() {
	mkdir -p $ROOTFS/s
	cat >$ROOTFS/s/$1.sh
}

# state ID prints "STATUS PID" from `ocikit state`.
state() { oc state "$1" | jq -r '.status + " " + (.pid | tostring)'; }

# cgroup_of PID prints the cgroup v2 path of a process ("/a/b").
cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }

# created ID BUNDLE creates a container and prints its cgroup directory.
created() {
	oc create -b "$2" "$1" >/tmp/vmtest.$1.out 2>&1 ||
		fail "ocikit create $1: $(tail -n 1 /tmp/vmtest.$1.out)"
	set -- "$1" $(state "$1")
	[ "$2" = created ] || fail "$1: status \"$2\" after create, want created"
	[ -d "/proc/$3" ] || fail "$1: init pid \"$3\" from ocikit state does not exist"
	echo "$CG$(cgroup_of "$3")"
}

# wait_stopped ID PID waits up to 30 s for the container's init PID to
# exit (its parent, this shell, reaps it late: a zombie counts as exited)
# and checks that ocikit state says stopped.
wait_stopped() {
	i=0
	while [ -e /proc/$2/stat ]; do
		read -r _ _ st _ </proc/$2/stat 2>/dev/null && [ "$st" = Z ] && break
		i=$((i + 1))
		[ $i -le 300 ] || fail "$1: init $2 still runs after 30s"
		sleep 0.1
	done
	set -- "$1" $(state "$1")
	[ "$2" = stopped ] || fail "$1: status \"$2\" after its init exited, want stopped"
}

# want FILE VALUE fails unless the first line of FILE is VALUE.
want() {
	[ -e "$1" ] || fail "$1 does not exist"
	got=$(head -n 1 "$1")
	[ "$got" = "$2" ] || fail "$1 is \"$got\", want \"$2\""
}

# events_count FILE KEY prints the count of KEY in a flat-keyed file.
events_count() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# run_fg ID BUNDLE runs a container in the foreground; prints its output and
# leaves the exit status in /tmp/vmtest.rc.
run_fg() {
	oc run -b "$2" "$1" >/tmp/vmtest.$1.out 2>&1
	echo $? >/tmp/vmtest.rc
	cat /tmp/vmtest.$1.out
}

# limits_dir prints the cgroup directory of the "limits" container, created
# (not started) on first use with every static limit the checks read back.
limits_dir() {
	if [ ! -e /tmp/vmtest.limits ]; then
		extra=
		grep -qw hugetlb $CG/cgroup.controllers &&
			extra='| .linux.resources.hugepageLimits = [{"pageSize": "2MB", "limit": 4194304}]'
		[ -e /sys/block/loop0 ] &&
			extra="$extra"' | .linux.resources.blockIO += {
				"throttleReadBpsDevice": [{"major": 7, "minor": 0, "rate": 1048576}],
				"throttleWriteIOPSDevice": [{"major": 7, "minor": 0, "rate": 100}]}'
		b=$(bundle limits '.process.args = ["true"]
			| .linux.resources.memory = {"limit": 67108864, "reservation": 16777216, "swap": 100663296}
			| .linux.resources.pids = {"limit": 42}
			| .linux.resources.cpu = {"quota": 50000, "period": 100000, "burst": 20000,
				"shares": 1024, "cpus": "0", "mems": "0"}
			| .linux.resources.blockIO = {"weight": 500}
			| .linux.resources.unified = {"memory.high": "33554432", "memory.oom.group": "1"}
			'"$extra") || exit
		(created limits "$b") >/tmp/vmtest.limits
		if [ $? != 0 ]; then
			echo "the limits container: $(cat /tmp/vmtest.reason)" >/tmp/vmtest.limits.err
		fi
	fi
	[ -e /tmp/vmtest.limits.err ] && fail "$(cat /tmp/vmtest.limits.err)"
	cat /tmp/vmtest.limits
}

check_run_exit_status() {
	b=$(bundle exit7 '.process.args = ["sh", "-c", "exit 7"]') || exit
	run_fg exit7 "$b" >/dev/null
	rc=$(cat /tmp/vmtest.rc)
	[ "$rc" = 7 ] || fail "ocikit run of 'exit 7' exited $rc: $(tail -n 1 /tmp/vmtest.exit7.out)"
	oc state exit7 >/dev/null 2>&1 && fail "exit7 still exists after a foreground run"
	b=$(bundle hello '.process.args = ["echo", "hello from the container"]') || exit
	out=$(run_fg hello "$b")
	rc=$(cat /tmp/vmtest.rc)
	[ "$rc/$out" = "0/hello from the container" ] || fail "ocikit run of echo exited $rc, printed \"$out\""
}

check_lifecycle() {
	b=$(bundle life '.process.args = ["sleep", "1000"]') || exit
	dir=$(created life "$b") || exit
	[ -d "$dir" ] || fail "cgroup $dir missing after create"
	oc start life || fail "ocikit start failed"
	set -- $(state life)
	[ "$1" = running ] || fail "status \"$1\" after start, want running"
	grep -qx "$2" "$dir/cgroup.procs" || fail "init pid $2 not in $dir/cgroup.procs"
	oc kill life KILL || fail "ocikit kill life KILL failed"
	wait_stopped life "$2"
	oc delete life || fail "ocikit delete of the stopped container failed"
	oc state life >/dev/null 2>&1 && fail "state still answers after delete"
	return 0
}

check_list_and_state() {
	limits_dir >/dev/null || exit
	oc list -q >/tmp/vmtest.list || fail "ocikit list -q failed"
	grep -qx limits /tmp/vmtest.list || fail "list -q does not show limits: $(tr '\n' ' ' </tmp/vmtest.list)"
	st=$(oc list -f json | jq -r '.[] | select(.id == "limits") | .status')
	[ "$st" = created ] || fail "list -f json: status of limits is \"$st\", want created"
	v=$(oc state limits | jq -r '[.ociVersion, .id, .bundle] | join(" ")')
	[ "$v" = "1.3.0 limits /vm/b/limits" ] || fail "state: ociVersion id bundle are \"$v\", want \"1.3.0 limits /vm/b/limits\""
}

check_memory_max() {
	dir=$(limits_dir) || exit
	want "$dir/memory.max" 67108864
}

# A tmpfs file is charged to the memory cgroup of the writer and cannot be
# reclaimed without swap: filling 48 MiB under a 24 MiB limit must hit it.
check_memory_enforced() {
	script memfill <<-'EOF'
		dd if=/dev/zero of=/dev/shm/fill bs=1M count=48
		echo dd=$?
	EOF
	b=$(bundle memfill '.linux.resources.memory = {"limit": 25165824, "swap": 25165824}
		| .process.args = ["sh", "/s/memfill.sh"]') || exit
	dir=$(created memfill "$b") || exit
	set -- $(state memfill)
	oc start memfill || fail "start failed"
	wait_stopped memfill "$2"
	max=$(events_count "$dir/memory.events" max)
	oom=$(events_count "$dir/memory.events" oom)
	[ "${max:-0}" -gt 0 ] && [ "${oom:-0}" -gt 0 ] ||
		fail "memory.events shows max=$max oom=$oom after writing 48MiB under a 24MiB limit"
	grep -q 'dd=0' /tmp/vmtest.memfill.out && fail "dd wrote 48MiB under a 24MiB limit"
	oc delete memfill || fail "delete failed"
}

# The init joins its cgroup once it has set up the root filesystem, so the
# Go init's own memory is charged to the caller, not the container: a
# container limited to 1 MiB runs, and a created container's memory.peak
# stays well under the ~2.5 MiB a Go process touches, also with a new
# cgroup namespace (the init joins and unshares right before its cgroup2
# mount, whose root is the namespace's).
check_memory_charged() {
	nocgns='.linux.namespaces |= map(select(.type != "cgroup"))'
	b=$(bundle tiny "$nocgns"' | .linux.resources.memory = {"limit": 1048576} | .process.args = ["echo", "tiny"]') || exit
	out=$(run_fg tiny "$b")
	rc=$(cat /tmp/vmtest.rc)
	[ "$rc/$out" = "0/tiny" ] || fail "a container limited to 1 MiB exited $rc, printed \"$out\""
	# The runtime keeps transparent huge pages off while the init's C
	# stage runs (one write in the binary's .bss under THP "always", as
	# here, faulted a whole 2 MiB page into the container's cgroup); the
	# program gets them back.
	b=$(bundle thp '.process.args = ["sh", "-c", "grep THP_enabled /proc/self/status"]') || exit
	out=$(run_fg thp "$b")
	case $out in
	*"THP_enabled:"*1) ;;
	*) fail "the container's program has \"$out\", want THP_enabled: 1" ;;
	esac
	for c in peak:"$nocgns" peakns:'.'; do
		id=${c%%:*}
		b=$(bundle "$id" "${c#*:}"' | .process.args = ["sleep", "1000"]') || exit
		dir=$(created "$id" "$b") || exit
		peak=$(cat "$dir/memory.peak" 2>/dev/null) || peak=$(cat "$dir/memory.current")
		oc delete -f "$id" >/dev/null 2>&1
		info "memory_charged_$id" "$peak"
		[ "$peak" -lt 1048576 ] ||
			fail "memory charged to a created container ($id): $peak bytes, want under 1 MiB"
	done
	return 0
}

# memory.reservation is the v2 memory.low.
check_memory_low() {
	dir=$(limits_dir) || exit
	want "$dir/memory.low" 16777216
}

# The spec's memory.swap is memory plus swap (v1's memsw); v2's
# memory.swap.max is the swap alone: 96 MiB - 64 MiB.
check_memory_swap() {
	dir=$(limits_dir) || exit
	want "$dir/memory.swap.max" 33554432
}

check_pids_max() {
	dir=$(limits_dir) || exit
	want "$dir/pids.max" 42
}

# A shell that starts 20 sleepers in a container limited to 8 processes:
# the fork beyond the limit fails (EAGAIN) and pids.events counts it.
check_pids_enforced() {
	script pfork <<-'EOF'
		i=0
		while [ $i -lt 20 ]; do
			sleep 30 &
			i=$((i + 1))
		done
		echo forked=$i
	EOF
	b=$(bundle pfork '.linux.resources.pids = {"limit": 8} | .process.args = ["sh", "/s/pfork.sh"]') || exit
	dir=$(created pfork "$b") || exit
	set -- $(state pfork)
	oc start pfork || fail "start failed"
	wait_stopped pfork "$2"
	n=$(events_count "$dir/pids.events" max)
	[ "${n:-0}" -gt 0 ] || fail "pids.events max=$n: no fork was refused under pids.max=8"
	grep -q 'forked=20' /tmp/vmtest.pfork.out && fail "20 background processes started under pids.max=8"
	grep -qi "can't fork\|resource temporarily unavailable" /tmp/vmtest.pfork.out ||
		fail "the container's shell did not report a failed fork: $(tr '\n' ' ' </tmp/vmtest.pfork.out)"
	oc delete pfork || fail "delete failed"
}

check_cpu_max() {
	dir=$(limits_dir) || exit
	want "$dir/cpu.max" "50000 100000"
}

check_cpu_burst() {
	dir=$(limits_dir) || exit
	want "$dir/cpu.max.burst" 20000
}

# blockIO.weight (v1 blkio: 10..1000) becomes io.weight (1..10000) as
# 1 + (weight - 10) * 9999 / 990 when the BFQ scheduler (io.bfq.weight,
# same scale as v1) is absent, as in this VM: 500 -> 4950.
check_io_weight() {
	dir=$(limits_dir) || exit
	[ -e "$dir/io.bfq.weight" ] && skip "BFQ is loaded: the weight goes to io.bfq.weight"
	want "$dir/io.weight" "default 4950"
}

# The throttle lists become one io.max line per device.
check_io_max() {
	[ -e /sys/block/loop0 ] || skip "no block device 7:0 (the kernel package has no loop.ko)"
	dir=$(limits_dir) || exit
	want "$dir/io.max" "7:0 rbps=1048576 wbps=max riops=max wiops=100"
}

# cpu.shares (v1: 2..262144, default 1024) becomes cpu.weight (v2: 1..10000,
# default 100) by the quadratic mapping of runc >= 1.3 and crun, which keeps
# both ends and the default: 2 -> 1, 1024 -> 100, 262144 -> 10000 (the
# older linear mapping gave 39 for 1024).
check_cpu_weight() {
	dir=$(limits_dir) || exit
	want "$dir/cpu.weight" 100
	for sw in 2:1 262144:10000; do
		s=${sw%:*}
		b=$(bundle shares$s ".process.args = [\"true\"] | .linux.resources.cpu = {\"shares\": $s}") || exit
		dir=$(created shares$s "$b") || exit
		want "$dir/cpu.weight" "${sw#*:}"
		oc delete -f shares$s || fail "delete -f failed"
	done
}

check_cpuset() {
	dir=$(limits_dir) || exit
	want "$dir/cpuset.cpus" 0
	want "$dir/cpuset.mems" 0
}

check_unified() {
	dir=$(limits_dir) || exit
	want "$dir/memory.high" 33554432
	want "$dir/memory.oom.group" 1
}

check_hugetlb_max() {
	grep -qw hugetlb $CG/cgroup.controllers || fail "the kernel has no hugetlb controller"
	dir=$(limits_dir) || exit
	want "$dir/hugetlb.2MB.max" 4194304
}

# /testdev/c42 is a character device 42:0 in the container's rootfs, outside
# its /dev. Major 42 has no driver: an open the cgroup allows fails with
# ENXIO ("No such device or address"); one the eBPF device filter denies
# fails with EPERM ("Operation not permitted").
devscript() {
	[ -c $ROOTFS/testdev/c42 ] || mknod $ROOTFS/testdev/c42 c 42 0 || fail "mknod c42 in the rootfs failed"
	script dev <<-'EOF'
		echo x >/dev/null && echo null=ok
		head -c 4 /dev/zero | wc -c
		cat /testdev/c42
		echo c42=$?
	EOF
}

check_devices_default_deny() {
	devscript
	b=$(bundle devdeny '.process.args = ["sh", "/s/dev.sh"]') || exit
	out=$(run_fg devdeny "$b" | tr '\n' ' ')
	case $out in *null=ok*) ;; *) fail "writing /dev/null failed: $out" ;; esac
	case $out in *" 4 "*) ;; *) fail "reading /dev/zero failed: $out" ;; esac
	case $out in *"Operation not permitted"*) ;; *) fail "opening the denied c 42:0 did not fail with EPERM: $out" ;; esac
}

check_devices_allow_rule() {
	devscript
	b=$(bundle devallow '.process.args = ["sh", "/s/dev.sh"]
		| .linux.resources.devices += [{"allow": true, "type": "c", "major": 42, "minor": 0, "access": "rw"}]') || exit
	out=$(run_fg devallow "$b" | tr '\n' ' ')
	case $out in *null=ok*) ;; *) fail "writing /dev/null failed: $out" ;; esac
	case $out in *"Operation not permitted"*) fail "c 42:0 allowed by a rule still fails with EPERM: $out" ;; esac
	case $out in *"No such device or address"*) ;; *) fail "opening the allowed c 42:0 did not reach the (absent) driver: $out" ;; esac
}

# With a cgroup namespace the container sees itself at the root of the
# hierarchy, and its /sys/fs/cgroup (a "cgroup" mount in the config) is a
# cgroup2 mount of its own subtree: its memory.max is the container's limit.
check_cgroupns() {
	script cgns <<-'EOF'
		cat /proc/self/cgroup
		awk '$2 == "/sys/fs/cgroup" { print "fstype=" $3 }' /proc/self/mounts
		echo max=$(cat /sys/fs/cgroup/memory.max)
	EOF
	b=$(bundle cgns '.linux.resources.memory = {"limit": 50331648} | .process.args = ["sh", "/s/cgns.sh"]') || exit
	out=$(run_fg cgns "$b")
	rc=$(cat /tmp/vmtest.rc)
	all=$(echo "$out" | tr '\n' ' ')
	[ "$rc" = 0 ] || fail "run exited $rc: $all"
	echo "$out" | grep -qx '0::/' || fail "/proc/self/cgroup is not 0::/ : $all"
	echo "$out" | grep -qx 'fstype=cgroup2' || fail "/sys/fs/cgroup is not a cgroup2 mount: $all"
	echo "$out" | grep -qx 'max=50331648' || fail "/sys/fs/cgroup/memory.max is not the container's limit: $all"
}

# config-linux.md "Cgroups path": a relative path is up to the runtime;
# ocikit (as runc) puts it beside its own cgroup, under the parent of
# /vmtest/runner, because the runner's cgroup holds processes and so
# cannot delegate controllers (cgroup v2's no-internal-process rule).
check_cgroupspath_relative() {
	b=$(bundle rel '.linux.cgroupsPath = "vmrel/c" | .linux.resources.memory = {"limit": 33554432}') || exit
	dir=$(created rel "$b") || exit
	[ "$dir" = $CG/vmtest/vmrel/c ] || fail "relative vmrel/c became $dir, want $CG/vmtest/vmrel/c"
	want "$dir/memory.max" 33554432
	oc delete -f rel || fail "delete -f failed"
	[ -d "$dir" ] && fail "$dir still exists after delete"
	return 0
}

check_cgroupspath_absolute() {
	b=$(bundle abs '.linux.cgroupsPath = "/vmabs/deep/c" | .linux.resources.pids = {"limit": 33}') || exit
	dir=$(created abs "$b") || exit
	[ "$dir" = $CG/vmabs/deep/c ] || fail "absolute /vmabs/deep/c became $dir"
	want "$dir/pids.max" 33
	oc delete -f abs || fail "delete -f failed"
	[ -d "$dir" ] && fail "$dir still exists after delete"
	return 0
}

# Without a pid namespace the init's children survive it: kill --all
# signals every process of the cgroup (freezing it first for SIGKILL, so
# nothing forks in between, and thawing it after).
check_kill_all() {
	script killall <<-'EOF'
		sleep 1000 &
		sleep 1001 &
		exec sleep 1002
	EOF
	b=$(bundle killall '.linux.namespaces -= [{"type": "pid"}] | .process.args = ["sh", "/s/killall.sh"]') || exit
	dir=$(created killall "$b") || exit
	oc start killall || fail "start failed"
	i=0
	while [ "$(wc -l <"$dir/cgroup.procs")" -lt 3 ]; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "the container's 3 processes did not start: $(tr '\n' ' ' <"$dir/cgroup.procs")"
		sleep 0.1
	done
	oc kill --all killall KILL || fail "ocikit kill --all killall KILL failed"
	i=0
	until grep -qx 'populated 0' "$dir/cgroup.events"; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "processes left after kill --all: $(tr '\n' ' ' <"$dir/cgroup.procs")"
		sleep 0.1
	done
	want "$dir/cgroup.freeze" 0
	oc delete killall || fail "delete after kill --all failed"
	[ -d "$dir" ] && fail "cgroup $dir still exists after delete"
	return 0
}

# A rootless container in a delegated subtree, as systemd's Delegate=yes
# gives a user's session: user rl (1000) owns /vmtest/rl, its shell sits in
# /vmtest/rl/shell, and ocikit run as rl creates the container's cgroup
# (relative cgroupsPath "ct") beside it and writes its limits there.
as_rl() {
	sh -c 'echo $$ >'"$CG/vmtest/rl/shell/cgroup.procs"' && exec su -s /bin/sh rl -c "$0"' "$*"
}

check_rootless_delegated() {
	rl=$CG/vmtest/rl
	mkdir -p $rl/shell || fail "mkdir $rl/shell failed"
	for f in $rl $rl/cgroup.procs $rl/cgroup.subtree_control $rl/cgroup.threads \
		$rl/shell $rl/shell/cgroup.procs $rl/shell/cgroup.subtree_control $rl/shell/cgroup.threads; do
		chown 1000:1000 "$f" || fail "chown $f failed"
	done
	b=/vm/b/rl
	rm -rf $b
	mkdir -p $b
	chown 1000:1000 $b
	as_rl "ocikit spec --rootless -b $b" >/tmp/vmtest.rl.out 2>&1 || fail "ocikit spec --rootless as rl: $(tail -n 1 /tmp/vmtest.rl.out)"
	jq --arg root "$ROOTFS" '.root.path = $root | .process.terminal = false | .process.args = ["sleep", "1000"]
		| .linux.cgroupsPath = "ct"
		| .linux.resources = {"memory": {"limit": 33554432}, "pids": {"limit": 20}}' \
		$b/config.json >$b/config.new || fail "jq edit of the rootless config failed"
	mv $b/config.new $b/config.json
	m=$(jq -c '.linux.uidMappings' $b/config.json)
	[ "$m" = '[{"containerID":0,"hostID":1000,"size":1}]' ] || fail "spec --rootless as rl maps $m, want rl (1000) to 0"
	as_rl "ocikit --root /tmp/rl-state create -b $b rlc" >/tmp/vmtest.rl.out 2>&1 ||
		fail "ocikit create as rl: $(tail -n 1 /tmp/vmtest.rl.out)"
	set -- $(timeout 60 ocikit --root /tmp/rl-state state rlc | jq -r '.status + " " + (.pid | tostring)')
	[ "$1" = created ] || fail "rootless container is \"$1\" after create, want created"
	dir=$CG$(cgroup_of "$2")
	[ "$dir" = $rl/ct ] || fail "rootless init $2 is in $dir, want $rl/ct"
	want "$dir/memory.max" 33554432
	want "$dir/pids.max" 20
	[ "$(stat -c %u /proc/$2)" = 1000 ] || fail "rootless init $2 runs as uid $(stat -c %u /proc/$2), want 1000"
	as_rl "ocikit --root /tmp/rl-state start rlc" >/tmp/vmtest.rl.out 2>&1 ||
		fail "ocikit start as rl: $(tail -n 1 /tmp/vmtest.rl.out)"
	as_rl "ocikit --root /tmp/rl-state delete -f rlc" >/tmp/vmtest.rl.out 2>&1 ||
		fail "ocikit delete -f as rl: $(tail -n 1 /tmp/vmtest.rl.out)"
	[ -d "$dir" ] && fail "cgroup $dir still exists after delete -f"
	return 0
}

# A rootless container that gets no cgroup of its own (rl's shell sits in
# /vmtest/rlu, which rl does not own), with the cgroup mount and without
# the cgroup namespace of runc's rootless config: the mount binds the
# cgroup the init runs in, the caller's, read-only, instead of failing on
# the container's missing one.
check_rootless_undelegated() {
	mkdir -p $CG/vmtest/rlu || fail "mkdir $CG/vmtest/rlu failed"
	b=/vm/b/rlu
	rm -rf $b
	mkdir -p $b
	chown 1000:1000 $b
	su -s /bin/sh rl -c "ocikit spec --rootless -b $b" >/tmp/vmtest.rlu.out 2>&1 ||
		fail "ocikit spec --rootless as rl: $(tail -n 1 /tmp/vmtest.rlu.out)"
	jq --arg root "$ROOTFS" '.root.path = $root | .process.terminal = false
		| .process.args = ["grep", " /sys/fs/cgroup ", "/proc/self/mountinfo"]
		| .linux.namespaces |= map(select(.type != "cgroup"))
		| .mounts += [{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
			"options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}]' \
		$b/config.json >$b/config.new || fail "jq edit of the rootless config failed"
	mv $b/config.new $b/config.json
	sh -c 'echo $$ >'"$CG/vmtest/rlu/cgroup.procs"' && exec su -s /bin/sh rl -c "$0"' \
		"ocikit --root /tmp/rlu-state run -b $b rlu" >/tmp/vmtest.rlu.out 2>&1 ||
		fail "ocikit run as rl: $(tail -n 1 /tmp/vmtest.rlu.out)"
	set -- $(grep ' /sys/fs/cgroup ' /tmp/vmtest.rlu.out | tail -n 1)
	[ "$4" = /vmtest/rlu ] || fail "the container's /sys/fs/cgroup binds \"$4\", want the caller's /vmtest/rlu: $(tail -n 1 /tmp/vmtest.rlu.out)"
	case ",$6," in *,ro,*) ;; *) fail "the container's /sys/fs/cgroup is $6, want ro" ;; esac
	return 0
}

check_delete_force_running() {
	b=$(bundle delrun '.process.args = ["sleep", "1000"]') || exit
	dir=$(created delrun "$b") || exit
	oc start delrun || fail "start failed"
	set -- $(state delrun)
	oc delete -f delrun || fail "delete -f of a running container failed"
	[ -d "$dir" ] && fail "cgroup $dir still exists after delete -f"
	[ -e /proc/$2/stat ] && read -r _ _ st _ </proc/$2/stat && [ "$st" != Z ] && fail "init $2 still runs after delete -f"
	return 0
}

# pause freezes the container's cgroup (cgroup.freeze, and cgroup.events
# says frozen once every process stopped), resume thaws it; SIGKILL
# reaches the processes of a paused container on cgroup v2, and
# delete --force removes a paused one.
check_pause_resume() {
	b=$(bundle pause '.process.args = ["sh", "-c", "sleep 1000 & sleep 1001"]') || exit
	dir=$(created pause "$b") || exit
	oc start pause || fail "start failed"
	oc pause pause || fail "ocikit pause failed"
	set -- $(state pause)
	[ "$1" = paused ] || fail "status \"$1\" after pause, want paused"
	want "$dir/cgroup.freeze" 1
	grep -qx 'frozen 1' "$dir/cgroup.events" || fail "cgroup.events does not say frozen after pause"
	oc pause pause 2>/dev/null && fail "a second pause succeeded"
	oc events --stats pause >/tmp/vmtest.ev || fail "events --stats of the paused container failed"
	jq -e '.type == "stats" and .id == "pause" and .data.memory.usage.usage > 0 and .data.pids.current > 0' /tmp/vmtest.ev >/dev/null ||
		fail "events --stats: $(head -c 200 /tmp/vmtest.ev)"
	oc resume pause || fail "ocikit resume failed"
	want "$dir/cgroup.freeze" 0
	grep -qx 'frozen 0' "$dir/cgroup.events" || fail "cgroup.events says frozen after resume"
	set -- $(state pause)
	[ "$1" = running ] || fail "status \"$1\" after resume, want running"
	oc resume pause 2>/dev/null && fail "resume of a running container succeeded"
	oc pause pause || fail "second pause failed"
	oc kill pause KILL || fail "kill of the paused container failed"
	wait_stopped pause "$2"
	oc delete pause || fail "delete failed"
	b=$(bundle pausedel '.process.args = ["sleep", "1000"]') || exit
	dir=$(created pausedel "$b") || exit
	oc start pausedel || fail "start failed"
	oc pause pausedel || fail "pause failed"
	oc delete -f pausedel || fail "delete -f of a paused container failed"
	[ -d "$dir" ] && fail "cgroup $dir still exists after delete -f"
	return 0
}

# update merges new limits into the current ones and writes them to the
# cgroup v2 files; a bad value is refused and changes nothing.
check_update() {
	b=$(bundle upd '.process.args = ["sleep", "1000"]
		| .linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 42}') || exit
	dir=$(created upd "$b") || exit
	oc start upd || fail "start failed"
	oc update --memory 128m --memory-swap 256m --cpu-quota 20000 --cpu-period 100000 upd || fail "ocikit update failed"
	want "$dir/memory.max" 134217728
	want "$dir/memory.swap.max" 134217728
	want "$dir/cpu.max" "20000 100000"
	want "$dir/pids.max" 42
	echo '{"pids": {"limit": 50}}' >/tmp/vmtest.res
	oc update -r /tmp/vmtest.res upd || fail "ocikit update -r failed"
	want "$dir/pids.max" 50
	want "$dir/memory.max" 134217728
	oc update --pids-limit many upd 2>/dev/null && fail "update --pids-limit many succeeded"
	want "$dir/pids.max" 50
	n=$(oc ps -f json upd | jq length)
	[ "$n" = 1 ] || fail "ps -f json lists $n processes, want 1"
	oc delete -f upd || fail "delete -f failed"
}

# events reports the OOM killer's action in the container's memory cgroup
# (inotify on memory.events, whose oom_kill grew) and exits when the
# container stops.
check_events_oom() {
	b=$(bundle evoom '.linux.resources.memory = {"limit": 16777216, "swap": 16777216}
		| .process.args = ["sh", "-c", "x=0123456789; while :; do x=$x$x; done"]') || exit
	created evoom "$b" >/dev/null || exit
	oc events --interval 200ms evoom >/tmp/vmtest.evoom 2>&1 &
	ev=$!
	# The first statistics say the watch is set up.
	i=0
	until [ -s /tmp/vmtest.evoom ]; do
		i=$((i + 1))
		[ $i -le 300 ] || fail "no statistics from events in 30s"
		sleep 0.1
	done
	oc start evoom || fail "start failed"
	wait $ev || fail "events exited with status $?: $(tail -n 1 /tmp/vmtest.evoom)"
	grep -q '^{"type":"oom","id":"evoom"}$' /tmp/vmtest.evoom ||
		fail "no oom event before the container stopped: $(grep -v '"stats"' /tmp/vmtest.evoom | head -c 200)"
	oc delete evoom || fail "delete failed"
}

# The limits container runs "true"; its cgroup outlives the program and
# goes with delete.
check_delete_removes_cgroup() {
	dir=$(limits_dir) || exit
	set -- $(state limits)
	oc start limits || fail "start failed"
	wait_stopped limits "$2"
	[ -d "$dir" ] || fail "cgroup $dir gone before delete"
	oc delete limits || fail "delete failed"
	[ -d "$dir" ] && fail "cgroup $dir still exists after delete"
	rm -f /tmp/vmtest.limits
	return 0
}

check_spec() {
	mkdir -p /vm/spec
	oc spec -b /vm/spec || fail "ocikit spec failed"
	v=$(jq -r '.ociVersion + " " + .root.path' /vm/spec/config.json) || fail "ocikit spec wrote no JSON"
	[ "$v" = "1.3.0 rootfs" ] || fail "spec: ociVersion and root.path are \"$v\", want \"1.3.0 rootfs\""
	oc spec -b /vm/spec 2>/dev/null && fail "a second ocikit spec overwrote config.json"
	return 0
}

# cleanup force-deletes the containers a failed check left (all but the
# limits container, which later checks still read).
cleanup() {
	for id in $(oc list -q 2>/dev/null); do
		[ "$id" = limits ] && [ "$1" != all ] && continue
		oc delete -f "$id" >/dev/null 2>&1 || echo "VMTEST info cannot delete $id"
	done
}

# run_checks runs the checks of PLAN, or only those named on the kernel
# command line as vmtest.checks=a,b (run.sh's OCIKIT_VM_CHECKS).
run_checks() {
	for arg in $(cat /proc/cmdline); do
		case $arg in vmtest.checks=?*) PLAN=$(echo "${arg#*=}" | tr , ' ') ;; esac
	done
	echo "VMTEST plan" $PLAN
	mkdir -p /vm/b
	for c in $PLAN; do
		rm -f /tmp/vmtest.reason /tmp/vmtest.info
		read -r t0 _ </proc/uptime
		("check_$(echo "$c" | tr - _)") >/tmp/vmtest.log 2>&1
		rc=$?
		read -r t1 _ </proc/uptime
		echo "VMTEST info seconds_$c $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
		[ -e /tmp/vmtest.info ] && sed 's/^/VMTEST info /' /tmp/vmtest.info
		if [ $rc = 0 ]; then
			echo "VMTEST ok $c"
		elif [ $rc = 77 ]; then
			echo "VMTEST skip $c: $(head -n 1 /tmp/vmtest.reason)"
		else
			reason=$(head -n 1 /tmp/vmtest.reason 2>/dev/null)
			echo "VMTEST fail $c: ${reason:-exit status $rc: $(tail -n 1 /tmp/vmtest.log)}"
			sed 's/^/  | /' /tmp/vmtest.log | tail -n 20
			cleanup
		fi
	done
	cleanup all
}

# exec: the process is born in the container's cgroup (clone3
# CLONE_INTO_CGROUP), in its namespaces, and its status comes back.
check_exec() {
	b=$(bundle ex '.process.args = ["sleep", "1000"] | .linux.resources.pids = {"limit": 20}') || exit
	dir=$(created ex "$b") || exit
	oc start ex || fail "start failed"
	set -- $(state ex)
	init=$2
	oc exec -d --pid-file /tmp/vmtest.ex.pid ex sleep 1003 >/tmp/vmtest.ex.out 2>&1 || fail "exec -d: $(tail -n 1 /tmp/vmtest.ex.out)"
	pid=$(cat /tmp/vmtest.ex.pid)
	[ "$(cgroup_of "$pid")" = "$(cgroup_of "$init")" ] || fail "exec'd process in $(cgroup_of "$pid"), init in $(cgroup_of "$init")"
	grep -qx "$pid" "$dir/cgroup.procs" || fail "exec'd pid $pid not in $dir/cgroup.procs"
	[ "$(readlink /proc/$pid/ns/pid)" = "$(readlink /proc/$init/ns/pid)" ] || fail "exec'd process not in the init's pid namespace"
	out=$(oc exec ex cat /proc/1/cmdline | tr '\0' ' ')
	[ "$out" = "sleep 1000 " ] || fail "exec sees /proc/1/cmdline \"$out\""
	oc exec ex sh -c 'exit 7'
	rc=$?
	[ $rc = 7 ] || fail "exec of exit 7 returned $rc"
	oc delete -f ex || fail "delete -f failed"
	return 0
}
