#!/bin/sh
# The checks of ocikit's systemd cgroup driver, run by systemd (as the
# oneshot ocikit-vmtest.service) inside the VM test/vm/systemd.sh boots,
# from the data disk mounted at /vmtest: the ocikit binary, config
# templates made on the host (config.json: limits; hook-fail.json: a
# createRuntime hook that fails after the scope exists; rootless.json) and
# a busybox bundle. Every line starting with VMTEST is for systemd.sh.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
V=/vmtest
O="$V/ocikit --systemd-cgroup --root /run/ocikit-sd"
W=/var/tmp/vmtest
mkdir -p $W
PLAN="scope-created scope-properties exec-joins update pause-resume delete-stops-unit default-path
custom-slice slice-unit unit-exists failed-create-no-unit kill-create-no-unit podman rootless-user-manager"
[ -f $V/only ] && PLAN=$(cat $V/only)

read -r up _ </proc/uptime
echo "VMTEST info boot_seconds $up"
echo "VMTEST info systemd $(systemctl --version | head -n 1)"
echo "VMTEST info cgroup $(stat -fc %T /sys/fs/cgroup)"
echo "VMTEST plan" $PLAN

log=$W/check.log
fail() {
	echo "VMTEST fail $name: $*"
	sed 's/^/  | /' $log | tail -n 30
	failed=1
}
# run CMD...: runs it, its output in the check's log.
run() {
	echo "+ $*" >>$log
	"$@" >>$log 2>&1
}
# out CMD...: prints its standard output, stderr to the log.
out() {
	echo "+ $*" >>$log
	"$@" 2>>$log
}
# config ID CGPATH [TEMPLATE]: a configuration for container ID.
config() {
	sed "s|@CGPATH@|$2|" "$V/${3:-config.json}" >$W/$1.json
	echo $W/$1.json
}
prop() { systemctl show -P "$2" "$1" 2>>$log; }
cgfile() { cat "/sys/fs/cgroup$1/$2" 2>>$log; }
unit_absent() {
	# A unit that never existed or was garbage-collected is not listed,
	# loaded or failed. systemd unloads a stopped unit on its next pass
	# over the garbage-collection queue: give it 3 seconds.
	i=0
	while [ "$(systemctl show -P LoadState "$1")" != not-found ] && [ $i -lt 15 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	systemctl show -p LoadState -p ActiveState -p SubState "$1" >>$log 2>&1
	[ -z "$(systemctl list-units --all --plain --no-legend "$1" 2>>$log)" ] &&
		[ "$(systemctl show -P LoadState "$1")" = not-found ]
}

check_scope_created() {
	run $O create --bundle $V/bundle --config "$(config c1 system.slice:ocikit:sd-c1)" sd-c1 || {
		fail "create"
		return
	}
	pid=$($O state sd-c1 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	[ "$(systemctl is-active ocikit-sd-c1.scope)" = active ] || {
		fail "ocikit-sd-c1.scope is $(systemctl is-active ocikit-sd-c1.scope), want active"
		return
	}
	got=$(cat /proc/$pid/cgroup)
	[ "$got" = "0::/system.slice/ocikit-sd-c1.scope" ] || fail "init's cgroup $got"
	# The init without Go (one thread; a Go init has several), charged
	# little to the scope.
	threads=$(sed -n 's/^Threads:[[:space:]]*//p' /proc/$pid/status)
	[ "$threads" = 1 ] || fail "the init has $threads threads, want 1 (the C init)"
	echo "VMTEST info scope_memory_current $(cgfile /system.slice/ocikit-sd-c1.scope memory.current)"
	systemctl status ocikit-sd-c1.scope >>$log 2>&1
	st=$(systemctl status --no-pager ocikit-sd-c1.scope 2>&1)
	case $st in
	*"Active: active (running)"*) ;;
	*) fail "systemctl status: $st" ;;
	esac
}

check_scope_properties() {
	u=ocikit-sd-c1.scope d=/system.slice/ocikit-sd-c1.scope
	systemctl show $u -p Delegate -p MemoryMax -p CPUWeight -p CPUQuotaPerSecUSec -p TasksMax -p AllowedCPUs -p Slice >>$log 2>&1
	[ "$(prop $u Delegate)" = yes ] || fail "Delegate=$(prop $u Delegate)"
	[ "$(prop $u Slice)" = system.slice ] || fail "Slice=$(prop $u Slice)"
	[ "$(prop $u MemoryMax)" = 67108864 ] || fail "MemoryMax=$(prop $u MemoryMax), want 67108864"
	[ "$(cgfile $d memory.max)" = 67108864 ] || fail "memory.max=$(cgfile $d memory.max)"
	[ "$(prop $u CPUQuotaPerSecUSec)" = 500ms ] || fail "CPUQuotaPerSecUSec=$(prop $u CPUQuotaPerSecUSec), want 500ms"
	[ "$(cgfile $d cpu.max)" = "50000 100000" ] || fail "cpu.max=$(cgfile $d cpu.max)"
	w=$(cgfile $d cpu.weight)
	[ "$(prop $u CPUWeight)" = "$w" ] && [ "$w" != 100 ] || fail "CPUWeight=$(prop $u CPUWeight), cpu.weight=$w (shares 512)"
	[ "$(prop $u TasksMax)" = 64 ] || fail "TasksMax=$(prop $u TasksMax), want 64"
	[ "$(cgfile $d pids.max)" = 64 ] || fail "pids.max=$(cgfile $d pids.max)"
	[ "$(prop $u AllowedCPUs)" = 0 ] || fail "AllowedCPUs=$(prop $u AllowedCPUs), want 0"
	[ "$(cgfile $d cpuset.cpus)" = 0 ] || fail "cpuset.cpus=$(cgfile $d cpuset.cpus)"
	# From the annotation org.systemd.property.TimeoutStopSec, and the default.
	[ "$(prop $u TimeoutStopUSec)" = 7s ] || fail "TimeoutStopUSec=$(prop $u TimeoutStopUSec), want 7s"
	[ "$(prop $u CollectMode)" = inactive-or-failed ] || fail "CollectMode=$(prop $u CollectMode)"
	# memory.swap.max has no unit property here: written to the file.
	[ "$(cgfile $d memory.swap.max)" = 0 ] || fail "memory.swap.max=$(cgfile $d memory.swap.max), want 0"
}

check_exec_joins() {
	run $O start sd-c1 || {
		fail start
		return
	}
	got=$(out $O exec sd-c1 cat /proc/self/cgroup)
	# In the container's cgroup namespace its scope is the root.
	[ "$got" = "0::/" ] || fail "exec'd process in $got, want 0::/ (the scope)"
	got=$(out $O exec sd-c1 cat /sys/fs/cgroup/memory.max)
	[ "$got" = 67108864 ] || fail "memory.max seen inside: $got"
	# Born in the scope (clone3 into its cgroup), exec needs no Go: the
	# Go runtime would print its package initialisation here.
	got=$(GODEBUG=inittrace=1 $O exec sd-c1 cat /proc/self/cgroup 2>&1)
	[ "$got" = "0::/" ] || fail "exec without Go: $got"
}

check_update() {
	u=ocikit-sd-c1.scope d=/system.slice/ocikit-sd-c1.scope
	run $O update --memory 100663296 --memory-swap 100663296 --pids-limit 32 --cpu-quota 25000 --cpu-share 1024 sd-c1 || {
		fail update
		return
	}
	systemctl show $u -p MemoryMax -p CPUWeight -p CPUQuotaPerSecUSec -p TasksMax >>$log 2>&1
	[ "$(prop $u MemoryMax)" = 100663296 ] || fail "MemoryMax=$(prop $u MemoryMax) after update"
	[ "$(cgfile $d memory.max)" = 100663296 ] || fail "memory.max=$(cgfile $d memory.max) after update"
	[ "$(prop $u TasksMax)" = 32 ] || fail "TasksMax=$(prop $u TasksMax) after update"
	[ "$(prop $u CPUQuotaPerSecUSec)" = 250ms ] || fail "CPUQuotaPerSecUSec=$(prop $u CPUQuotaPerSecUSec) after update"
	[ "$(cgfile $d cpu.max)" = "25000 100000" ] || fail "cpu.max=$(cgfile $d cpu.max) after update"
	w=$(cgfile $d cpu.weight)
	[ "$(prop $u CPUWeight)" = "$w" ] || fail "CPUWeight=$(prop $u CPUWeight), cpu.weight=$w after update"
	# Unchanged by the update.
	[ "$(prop $u AllowedCPUs)" = 0 ] || fail "AllowedCPUs=$(prop $u AllowedCPUs) after update"
}

check_pause_resume() {
	d=/system.slice/ocikit-sd-c1.scope
	run $O pause sd-c1 || {
		fail pause
		return
	}
	grep -q 'frozen 1' /sys/fs/cgroup$d/cgroup.events || fail "not frozen after pause"
	$O state sd-c1 | grep -q '"status": *"paused"' || fail "state not paused"
	run $O resume sd-c1 || {
		fail resume
		return
	}
	grep -q 'frozen 0' /sys/fs/cgroup$d/cgroup.events || fail "still frozen after resume"
	[ "$(systemctl is-active ocikit-sd-c1.scope)" = active ] || fail "scope not active after resume"
}

check_delete_stops_unit() {
	run $O kill sd-c1 KILL
	run $O delete --force sd-c1 || {
		fail delete
		return
	}
	unit_absent ocikit-sd-c1.scope || fail "ocikit-sd-c1.scope still there: $(systemctl is-active ocikit-sd-c1.scope)"
	[ ! -d /sys/fs/cgroup/system.slice/ocikit-sd-c1.scope ] || fail "cgroup directory left behind"
}

check_default_path() {
	run $O create --bundle $V/bundle --config "$(config c2 "")" sd-c2 || {
		fail create
		return
	}
	pid=$($O state sd-c2 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	got=$(cat /proc/$pid/cgroup)
	[ "$got" = "0::/system.slice/ocikit-sd-c2.scope" ] || fail "default cgroupsPath: init in $got"
	run $O delete --force sd-c2
	unit_absent ocikit-sd-c2.scope || fail "unit left after delete"
}

check_custom_slice() {
	run $O run -d --bundle $V/bundle --config "$(config c3 machine.slice:ocikit-x:sd-c3)" sd-c3 || {
		fail run
		return
	}
	pid=$($O state sd-c3 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	got=$(cat /proc/$pid/cgroup)
	[ "$got" = "0::/machine.slice/ocikit-x-sd-c3.scope" ] || fail "init in $got"
	run $O delete --force sd-c3
	unit_absent ocikit-x-sd-c3.scope || fail "unit left after delete"
}

check_slice_unit() {
	# A NAME ending in .slice makes the container's unit a slice.
	run $O run -d --bundle $V/bundle --config "$(config c4 ocikit.slice:ocikit:ocikit-sd4.slice slice.json)" sd-c4 || {
		fail run
		return
	}
	pid=$($O state sd-c4 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	got=$(cat /proc/$pid/cgroup)
	[ "$got" = "0::/ocikit.slice/ocikit-sd4.slice" ] || fail "init in $got"
	[ "$(prop ocikit-sd4.slice MemoryMax)" = 67108864 ] || fail "slice MemoryMax=$(prop ocikit-sd4.slice MemoryMax)"
	run $O delete --force sd-c4
	# Stopped, not failed: systemd 252 keeps a stopped transient slice
	# loaded (inactive) while its parent slice is active; its cgroup goes.
	systemctl show -p LoadState -p ActiveState -p SubState ocikit-sd4.slice >>$log 2>&1
	[ "$(systemctl is-active ocikit-sd4.slice)" = inactive ] || fail "slice after delete: $(systemctl is-active ocikit-sd4.slice)"
	[ ! -d /sys/fs/cgroup/ocikit.slice/ocikit-sd4.slice ] || fail "slice's cgroup left after delete"
}

check_unit_exists() {
	# A second container with the same scope fails and does not stop the
	# first one's.
	run $O run -d --bundle $V/bundle --config "$(config c5 system.slice:ocikit:sd-c5)" sd-c5 || {
		fail run
		return
	}
	if run $O create --bundle $V/bundle --config "$(config c5b system.slice:ocikit:sd-c5)" sd-c5b; then
		fail "second create with the same scope succeeded"
	fi
	grep -q 'exists already' $log || fail "no 'exists already' in the error"
	[ "$(systemctl is-active ocikit-sd-c5.scope)" = active ] || fail "the first container's scope is $(systemctl is-active ocikit-sd-c5.scope)"
	[ ! -d /run/ocikit-sd/sd-c5b ] || fail "state of the failed create left behind"
	run $O delete --force sd-c5
	unit_absent ocikit-sd-c5.scope || fail "unit left after delete"
}

check_failed_create_no_unit() {
	# The createRuntime hook runs once the scope exists, records that it
	# does, and fails the create (runtime.md "Lifecycle" step 3).
	rm -f /tmp/sd-c6-seen
	if run $O create --bundle $V/bundle --config "$(config c6 system.slice:ocikit:sd-c6 hook-fail.json)" sd-c6; then
		fail "create with a failing hook succeeded"
		return
	fi
	[ "$(cat /tmp/sd-c6-seen 2>/dev/null)" = active ] || fail "the scope was not active when the hook ran: $(cat /tmp/sd-c6-seen 2>&1)"
	unit_absent ocikit-sd-c6.scope || fail "ocikit-sd-c6.scope left behind: $(systemctl status --no-pager ocikit-sd-c6.scope 2>&1 | head -n 3)"
	[ ! -d /sys/fs/cgroup/system.slice/ocikit-sd-c6.scope ] || fail "cgroup directory left behind"
	[ ! -d /run/ocikit-sd/sd-c6 ] || fail "state left behind"
}

check_kill_create_no_unit() {
	# A create SIGKILLed while its hook sleeps (the scope exists) leaves a
	# container that delete --force removes with its unit.
	sed "s|@CGPATH@|system.slice:ocikit:sd-c7|; s|exit 1|sleep 60|" $V/hook-fail.json >$W/c7.json
	$O create --bundle $V/bundle --config $W/c7.json sd-c7 >>$log 2>&1 &
	cpid=$!
	i=0
	while [ "$(systemctl is-active ocikit-sd-c7.scope)" != active ] && [ $i -lt 100 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	[ "$(systemctl is-active ocikit-sd-c7.scope)" = active ] || fail "scope not active before the kill"
	kill -9 $cpid
	wait $cpid 2>/dev/null
	run $O delete --force sd-c7 || fail "delete --force"
	unit_absent ocikit-sd-c7.scope || fail "unit left after delete --force"
}

check_podman() {
	command -v podman >/dev/null || {
		echo "VMTEST skip $name: no podman in the image"
		return 2
	}
	rm -rf $W/rootfs
	cp -a $V/bundle/rootfs $W/rootfs
	# vfs: the kernel's overlay is a module, and the image has no modules.
	printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' >$W/storage.conf
	export CONTAINERS_STORAGE_CONF=$W/storage.conf
	P="podman --runtime $V/ocikit --cgroup-manager systemd"
	got=$(out $P run --rm --network none --memory 64m --pids-limit 50 --rootfs $W/rootfs \
		sh -c 'cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max')
	echo "$got" >>$log
	[ "$got" = "0::/
67108864
50" ] || {
		fail "podman run: $(echo $got)"
		return
	}
	# The unit podman asked for (machine.slice:libpod:ID) is gone with --rm.
	[ -z "$(systemctl list-units --all --plain --no-legend 'libpod-*.scope' 2>>$log)" ] || fail "libpod scope left: $(systemctl list-units --all --plain --no-legend 'libpod-*')"
	id=$(out $P run -d --network none --rootfs $W/rootfs sleep 600)
	[ -n "$id" ] || {
		fail "podman run -d"
		return
	}
	[ "$(systemctl is-active libpod-$id.scope)" = active ] || fail "libpod-$id.scope is $(systemctl is-active libpod-$id.scope)"
	got=$(out $P exec $id cat /proc/self/cgroup)
	[ "$got" = "0::/" ] || fail "podman exec in $got"
	run $P rm -f -t 0 $id
	unit_absent libpod-$id.scope || fail "libpod-$id.scope left after podman rm"
}

check_rootless_user_manager() {
	# The user manager of rl (lingering) delegates user@1000.service: a
	# rootless container's scope goes under it, through the --user bus.
	i=0
	while [ ! -S /run/user/1000/bus ] && [ $i -lt 100 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	[ -S /run/user/1000/bus ] || {
		echo "VMTEST skip $name: no user bus for uid 1000"
		return 2
	}
	mkdir -p $W/rl
	cp $V/rootless.json $W/rl/config.json
	chmod 755 $W/rl
	chmod 644 $W/rl/config.json
	env="XDG_RUNTIME_DIR=/run/user/1000 DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus"
	rx="runuser -u rl -- env $env $V/ocikit --systemd-cgroup --root /run/user/1000/ocikit"
	us="runuser -u rl -- env $env systemctl --user"
	run $rx run -d --bundle $V/bundle --config $W/rl/config.json sd-rl1 || {
		fail "rootless run -d"
		return
	}
	pid=$($rx state sd-rl1 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
	d=/user.slice/user-1000.slice/user@1000.service/user.slice/ocikit-sd-rl1.scope
	got=$(cat /proc/$pid/cgroup)
	[ "$got" = "0::$d" ] || fail "rootless init in $got, want 0::$d"
	[ "$($us is-active ocikit-sd-rl1.scope 2>>$log)" = active ] || fail "user unit not active"
	[ "$($us show -P Delegate ocikit-sd-rl1.scope 2>>$log)" = yes ] || fail "user unit not delegated"
	[ "$(cgfile $d pids.max)" = 10 ] || fail "pids.max=$(cgfile $d pids.max), want 10"
	got=$(out $rx exec sd-rl1 cat /proc/self/cgroup)
	[ "$got" = "0::$d" ] || fail "rootless exec in $got"
	run $rx delete --force sd-rl1 || fail "rootless delete"
	[ "$($us show -P LoadState ocikit-sd-rl1.scope 2>>$log)" = not-found ] || fail "user unit left after delete"
}

failures=0
t0=$(cut -d' ' -f1 /proc/uptime)
for name in $PLAN; do
	: >$log
	failed=
	fn=check_$(echo $name | tr - _)
	$fn
	rc=$?
	if [ -z "$failed" ] && [ $rc != 2 ]; then
		echo "VMTEST ok $name"
	elif [ -n "$failed" ]; then
		failures=$((failures + 1))
	fi
done
echo "VMTEST info checks_seconds $(awk -v s=$t0 -v e=$(cut -d' ' -f1 /proc/uptime) 'BEGIN { printf "%.1f", e - s }')"
echo "VMTEST done"
