# Checkpoint and restore checks of ocikit in the test VM, sourced by /init
# (init.sh) as /vm/checks.sh when criu.sh built the initramfs. The helpers
# (oc, fail, skip, info, bundle, state, cgroup_of, cleanup, run_checks)
# are those of the cgroup checks, installed as /vm/cgroup-checks.sh.
. /vm/cgroup-checks.sh

# CRIU's socket diag and netfilter modules (criu.sh), once (a check
# sources this file again in a mount namespace of its own).
if [ -z "${VMTEST_CRIU_SETUP:-}" ]; then
	for m in $(cat /vm/criu-modules/order 2>/dev/null); do
		insmod /vm/criu-modules/$m.ko 2>/dev/null || echo "VMTEST info insmod $m.ko failed"
	done
	# CRIU's kernel feature detection tests TCP repair on the loopback.
	ip link set lo up
	export VMTEST_CRIU_SETUP=1
fi

PLAN="criu-check restore-exec leave-running pre-dump restore-new-cgroup
netns-path masked-cgroupns empty-ns lazy-pages page-server cgroup-v1-mount
times-64m lazy-64m terminal rootless-checkpoint"
CK=/tmp/ck

# bg ID CMD...: runs CMD (a detached run or restore of ocikit or runc)
# with pipes as its stdio, which the container inherits: CRIU dumps and
# restores pipes (given back through inherit-fd), not a file of the VM's
# /dev, which is outside the container's mounts. It waits for CMD to
# return and fails with its last line when CMD fails.
bg() {
	id=$1
	shift
	rm -f /tmp/vmtest.$id.rc
	(: | ("$@" 2>&1; echo $? >/tmp/vmtest.$id.rc) | cat >/tmp/vmtest.$id.out) &
	i=0
	while [ ! -e /tmp/vmtest.$id.rc ]; do
		i=$((i + 1))
		[ $i -le 1200 ] || fail "$*: did not return within 120s"
		sleep 0.1
	done
	[ "$(cat /tmp/vmtest.$id.rc)" = 0 ] || fail "$*: $(tail -n 1 /tmp/vmtest.$id.out)"
}

# must CMD...: runs CMD, failing with its last line of output.
must() {
	"$@" >/tmp/vmtest.must.out 2>&1 || {
		l=$(ls -t $CK/*/*.log $CK/*/*/*.log 2>/dev/null | head -n 1)
		[ -n "$l" ] && grep -h -B3 Error "$l" | tail -n 16
		[ -n "$l" ] && grep -A12 "Dumping netns links" "$l"
		fail "$*: $(tail -n 1 /tmp/vmtest.must.out)"
	}
}

# counter NAME DATA [JQ]: a bundle whose program appends 1, 2, 3, ... to
# /data/log, a bind mount of /vm/data/DATA (an external mount for CRIU);
# prints its path.
counter() {
	mkdir -p /vm/data/$2
	bundle "$1" '.process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >>/data/log; sleep 0.2; done"]
		| .mounts += [{"destination": "/data", "type": "bind", "source": "/vm/data/'"$2"'", "options": ["rbind", "rw"]}]
		'"${3:-}"
}

lines() { wc -l </vm/data/$1/log 2>/dev/null || echo 0; }

# grows DATA N waits up to 30 s for the log to pass N lines.
grows() {
	i=0
	while [ "$(lines "$1")" -le "$2" ]; do
		i=$((i + 1))
		[ $i -le 300 ] || return 1
		sleep 0.1
	done
}

# contiguous DATA [FROM]: the log from line FROM (1) on counts up by one.
contiguous() {
	sed -n "${2:-1},\$p" /vm/data/$1/log | awk 'NR > 1 && $1 != prev + 1 { print "line " NR ": " $1 " after " prev; exit 1 } { prev = $1 }'
}

now() { read -r t _ </proc/uptime; echo "$t"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

check_criu_check() {
	criu check >/tmp/vmtest.criu.out 2>&1 || { cat /tmp/vmtest.criu.out; fail "criu check: $(grep Error /tmp/vmtest.criu.out | head -n 1)"; }
	info criu_version "$(criu --version | awk '/Version/ { print $2 }')"
}

# A counter checkpointed (and so stopped and deleted) and restored goes on
# from where it stopped; exec works in the restored container.
check_restore_exec() {
	b=$(counter ck1 ck1) || exit
	bg ck1 oc run -d -b "$b" ck1
	grows ck1 3 || fail "the counter does not count"
	must oc checkpoint --image-path $CK/ck1 ck1
	oc state ck1 >/dev/null 2>&1 && fail "ck1 still exists after checkpoint without --leave-running"
	n=$(lines ck1)
	sleep 1
	[ "$(lines ck1)" = "$n" ] || fail "the counter still counts after checkpoint"
	bg ck1r oc restore -d -b "$b" --pid-file /tmp/vmtest.ck1.pid --image-path $CK/ck1 ck1
	set -- $(state ck1)
	[ "$1" = running ] || fail "status \"$1\" after restore, want running"
	[ "$2" = "$(cat /tmp/vmtest.ck1.pid)" ] || fail "pid file $(cat /tmp/vmtest.ck1.pid), state pid $2"
	init=$2
	grows ck1 $((n + 2)) || fail "the restored counter does not count"
	contiguous ck1 >/tmp/vmtest.gap || fail "the log does not go on where it stopped: $(cat /tmp/vmtest.gap)"
	out=$(oc exec ck1 cat /proc/1/cmdline | tr '\0' ' ')
	case $out in "sh -c i=0;"*) ;; *) fail "exec into the restored container sees /proc/1/cmdline \"$out\"" ;; esac
	oc exec -d --pid-file /tmp/vmtest.ck1.epid ck1 sleep 100 || fail "exec -d failed"
	[ "$(cgroup_of "$(cat /tmp/vmtest.ck1.epid)")" = "$(cgroup_of "$init")" ] || fail "exec'd process not in the restored init's cgroup"
	oc exec ck1 sh -c 'exit 7'
	rc=$?
	[ $rc = 7 ] || fail "exec of exit 7 in the restored container returned $rc"
	must oc delete -f ck1
}

# --leave-running: the container keeps counting; its checkpoint restored
# later resumes from the value it had then.
check_leave_running() {
	b=$(counter ck2 ck2) || exit
	bg ck2 oc run -d -b "$b" ck2
	grows ck2 3 || fail "the counter does not count"
	must oc checkpoint --leave-running --image-path $CK/ck2 ck2
	n=$(lines ck2)
	set -- $(state ck2)
	[ "$1" = running ] || fail "status \"$1\" after checkpoint --leave-running"
	grows ck2 $((n + 2)) || fail "the counter stopped after checkpoint --leave-running"
	must oc delete -f ck2
	k=$(lines ck2)
	bg ck2r oc restore -d -b "$b" --image-path $CK/ck2 ck2
	grows ck2 $((k + 2)) || fail "the restored counter does not count"
	v=$(sed -n "$((k + 1))p" /vm/data/ck2/log)
	[ "$v" -gt 1 ] && [ "$v" -le $((n + 1)) ] || fail "the restored counter wrote $v first, want the checkpoint's value + 1 (<= $((n + 1)))"
	contiguous ck2 $((k + 1)) >/tmp/vmtest.gap || fail "the restored log: $(cat /tmp/vmtest.gap)"
	must oc delete -f ck2
}

# pre-dump, then a dump on top of it (--parent-path), then restore.
check_pre_dump() {
	b=$(counter ck3 ck3) || exit
	bg ck3 oc run -d -b "$b" ck3
	grows ck3 3 || fail "the counter does not count"
	must oc checkpoint --pre-dump --image-path $CK/ck3/pre ck3
	set -- $(state ck3)
	[ "$1" = running ] || fail "status \"$1\" after --pre-dump"
	n=$(lines ck3)
	grows ck3 $((n + 1)) || fail "the counter stopped after --pre-dump"
	must oc checkpoint --parent-path ../pre --image-path $CK/ck3/dump ck3
	[ -e $CK/ck3/dump/parent ] || fail "the dump has no parent link"
	pre=$(du -sk $CK/ck3/pre | cut -f1)
	dump=$(du -sk $CK/ck3/dump | cut -f1)
	info pre_dump_kib "$pre"
	info dump_after_pre_dump_kib "$dump"
	n=$(lines ck3)
	bg ck3r oc restore -d -b "$b" --image-path $CK/ck3/dump ck3
	grows ck3 $((n + 2)) || fail "the restored counter does not count"
	contiguous ck3 >/tmp/vmtest.gap || fail "the log: $(cat /tmp/vmtest.gap)"
	must oc delete -f ck3
}

# Restored into another cgroup (the restore bundle's cgroupsPath) with
# the restore bundle's limits.
check_restore_new_cgroup() {
	b=$(counter ck4 ck4 '| .linux.cgroupsPath = "/criu-old"') || exit
	bg ck4 oc run -d -b "$b" ck4
	grows ck4 3 || fail "the counter does not count"
	must oc checkpoint --image-path $CK/ck4 ck4
	[ -e $CG/criu-old ] && fail "the old cgroup is left after checkpoint"
	b2=$(counter ck4new ck4 '| .linux.cgroupsPath = "/criu/new" | .linux.resources.memory = {"limit": 104857600} | .linux.resources.pids = {"limit": 50}') || exit
	n=$(lines ck4)
	bg ck4r oc restore -d -b "$b2" --image-path $CK/ck4 ck4
	set -- $(state ck4)
	[ "$(cgroup_of "$2")" = /criu/new ] || fail "restored init in $(cgroup_of "$2"), want /criu/new"
	want $CG/criu/new/memory.max 104857600
	want $CG/criu/new/pids.max 50
	[ -e $CG/criu-old ] && fail "CRIU recreated the old cgroup"
	grows ck4 $((n + 2)) || fail "the restored counter does not count"
	must oc delete -f ck4
	[ -e $CG/criu/new ] && fail "delete left the new cgroup"
	return 0
}

# rss_of NAME prints the resident KiB of the first process named NAME.
rss_of() {
	for s in /proc/[0-9]*/status; do
		awk -v n="$1" '$1 == "Name:" && $2 == n { f = 1 } f && $1 == "VmRSS:" { print $2; exit }' "$s" 2>/dev/null
	done | head -n 1
}

# wait_rss NAME KIB waits up to 60 s for NAME to have KIB resident.
wait_rss() {
	i=0
	while [ "$(rss_of "$1")" -lt "$2" ] 2>/dev/null || [ -z "$(rss_of "$1")" ]; do
		i=$((i + 1))
		[ $i -le 600 ] || fail "$1 never had $2 KiB resident (has $(rss_of "$1"))"
		sleep 0.1
	done
}

# log_seconds LOG: the time stamp of the last line of a CRIU log (seconds
# since CRIU started).
log_seconds() { sed -n 's/^(\([0-9.]*\)).*/\1/p' "$1" | tail -n 1; }

# vm_rounds prints how many rounds the timing checks take: vmtest.rounds=N
# on the kernel command line (criu.sh's OCIKIT_VM_ROUNDS), else 1.
vm_rounds() {
	local arg rounds=1
	for arg in $(cat /proc/cmdline); do
		case $arg in vmtest.rounds=?*) rounds=${arg#*=} ;; esac
	done
	echo "$rounds"
}

# Checkpoint (stopping) and restore times of a container with a 64 MiB
# resident process (busybox dd holding its 64 MiB buffer, blocked on a
# full pipe), ocikit next to runc, in turns (vmtest.rounds=N on the kernel
# command line, criu.sh's OCIKIT_VM_ROUNDS: emulation makes single runs
# noisy): info lines RUNTIME_checkpoint_64m_seconds and
# RUNTIME_restore_64m_seconds with one value per round, and CRIU's own
# share (the last time stamp of its log).
check_times_64m() {
	b=$(bundle m64 '.process.args = ["sh", "-c", "dd if=/dev/zero bs=64M count=1 2>/dev/null | sleep 100000"]') || exit
	tools=ocikit
	command -v runc >/dev/null && tools="ocikit runc"
	rounds=$(vm_rounds)
	for round in $(seq "$rounds"); do
		for tool in $tools; do
			case $tool in
			ocikit) R=oc ;;
			runc) R="runc --root /run/runc" ;;
			esac
			id=$tool$round
			img=$CK/$id
			bg $id $R run -d -b "$b" $id
			wait_rss dd 65536
			t=$(now)
			must $R checkpoint --image-path $img $id
			echo "$(since "$t")" >>/tmp/vmtest.$tool.ck
			echo "$(log_seconds $img/dump.log)" >>/tmp/vmtest.$tool.ckcriu
			[ $round = 1 ] && info ${tool}_image_64m_kib "$(du -sk $img | cut -f1)"
			t=$(now)
			bg ${id}r $R restore -d -b "$b" --image-path $img $id
			echo "$(since "$t")" >>/tmp/vmtest.$tool.rs
			echo "$(log_seconds $img/restore.log)" >>/tmp/vmtest.$tool.rscriu
			[ "$(rss_of dd)" -ge 65536 ] || fail "$tool: the restored dd has $(rss_of dd) KiB resident"
			must $R delete -f $id
			rm -rf $img
		done
	done
	for tool in $tools; do
		info ${tool}_checkpoint_64m_seconds "$(echo $(cat /tmp/vmtest.$tool.ck))"
		info ${tool}_restore_64m_seconds "$(echo $(cat /tmp/vmtest.$tool.rs))"
		info ${tool}_criu_dump_seconds "$(echo $(cat /tmp/vmtest.$tool.ckcriu))"
		info ${tool}_criu_restore_seconds "$(echo $(cat /tmp/vmtest.$tool.rscriu))"
	done
}

# A network namespace given by path: CRIU treats it as external at the
# dump and the restored container joins the same one.
check_netns_path() {
	/usr/sbin/ip netns add criu || fail "ip netns add criu failed"
	ns="net:[$(stat -L -c %i /run/netns/criu)]"
	b=$(counter nsp nsp '| .linux.namespaces |= map(if .type == "network" then .path = "/run/netns/criu" else . end)') || exit
	bg nsp oc run -d -b "$b" nsp
	grows nsp 3 || fail "the counter does not count"
	set -- $(state nsp)
	[ "$(readlink /proc/$2/ns/net)" = "$ns" ] || fail "the init is in $(readlink /proc/$2/ns/net), want /run/netns/criu's $ns"
	must oc checkpoint --image-path $CK/nsp nsp
	n=$(lines nsp)
	bg nspr oc restore -d -b "$b" --image-path $CK/nsp nsp
	set -- $(state nsp)
	[ "$(readlink /proc/$2/ns/net)" = "$ns" ] || fail "the restored init is in $(readlink /proc/$2/ns/net), want /run/netns/criu's $ns"
	grows nsp $((n + 2)) || fail "the restored counter does not count"
	contiguous nsp >/tmp/vmtest.gap || fail "the log: $(cat /tmp/vmtest.gap)"
	must oc delete -f nsp
	/usr/sbin/ip netns del criu
}

# A terminal container (process.terminal, --console-socket) checkpointed
# and restored with --console-socket: CRIU makes a new pty pair
# (orphan-pts-master), the new master reaches the console socket and the
# program writes on in the new terminal.
check_terminal() {
	command -v consock >/dev/null || skip "no consock (go was missing when criu.sh built the VM)"
	rm -f /tmp/vmtest.tty.sock /tmp/vmtest.tty.out
	consock /tmp/vmtest.tty.sock /tmp/vmtest.tty.out &
	cs=$!
	i=0
	while [ ! -S /tmp/vmtest.tty.sock ]; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "consock did not listen"
		sleep 0.1
	done
	b=$(counter tty tty '| .process.terminal = true
		| .process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >>/data/log; echo tty$i; sleep 0.2; done"]') || exit
	must oc run -d --console-socket /tmp/vmtest.tty.sock -b "$b" tty
	grows tty 3 || fail "the counter does not count"
	grep -q '^tty2' /tmp/vmtest.tty.out || fail "no output through the console socket's pty: $(head -c 100 /tmp/vmtest.tty.out)"
	must oc checkpoint --image-path $CK/tty tty
	n=$(lines tty)
	must oc restore -d --console-socket /tmp/vmtest.tty.sock -b "$b" --image-path $CK/tty tty
	grows tty $((n + 3)) || fail "the restored counter does not count"
	grep -q "^tty$((n + 2))" /tmp/vmtest.tty.out || fail "the restored program's output does not reach the new console: $(tail -c 100 /tmp/vmtest.tty.out)"
	contiguous tty >/tmp/vmtest.gap || fail "the log: $(cat /tmp/vmtest.gap)"
	must oc delete -f tty
	kill $cs
}

# Rootless checkpoint (runc#2009): a counter of user rl in a user
# namespace of its own, checkpointed and restored by rl. CRIU needs
# CAP_CHECKPOINT_RESTORE (kernel 5.9+) and its unprivileged mode, which
# ocikit asks for when it runs without root; with a CRIU older than 3.18
# (no such mode) ocikit refuses in one line, the check reports what CRIU
# itself says as rl (with and without the capabilities) and is skipped.
check_rootless_checkpoint() {
	mkdir -p $CG/vmtest/rlck || fail "mkdir $CG/vmtest/rlck failed"
	b=/vm/b/rlck
	rm -rf $b /tmp/rlck-img
	mkdir -p $b /vm/data/rlck /tmp/rlck-img
	chown 1000:1000 $b /vm/data/rlck /tmp/rlck-img
	su -s /bin/sh rl -c "ocikit spec --rootless -b $b" >/tmp/vmtest.rlck.out 2>&1 ||
		fail "ocikit spec --rootless as rl: $(tail -n 1 /tmp/vmtest.rlck.out)"
	jq --arg root "$ROOTFS" '.root.path = $root | .process.terminal = false
		| .process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >>/data/log; sleep 0.2; done"]
		| .mounts += [{"destination": "/data", "type": "bind", "source": "/vm/data/rlck", "options": ["rbind", "rw"]}]' \
		$b/config.json >$b/config.new || fail "jq edit of the rootless config failed"
	mv $b/config.new $b/config.json
	rl() { sh -c 'echo $$ >'"$CG/vmtest/rlck/cgroup.procs"' && exec su -s /bin/sh rl -c "$0"' "ocikit --root /tmp/rlck-state $*"; }
	bg rlck rl run -d -b $b rlck
	grows rlck 2 || fail "the rootless counter does not count"
	rl checkpoint --image-path /tmp/rlck-img rlck >/tmp/vmtest.rlck.out 2>&1
	rc=$?
	if [ $rc != 0 ]; then
		# What CRIU itself does as rl: plainly, and as a copy with
		# CAP_CHECKPOINT_RESTORE (kernel 5.9+) and CAP_SYS_PTRACE, the
		# capabilities of CRIU's non-root mode, as file capabilities.
		su -s /bin/sh rl -c "criu check" >/tmp/vmtest.rlcrit.out 2>&1
		info rootless_criu_check "$(grep Error /tmp/vmtest.rlcrit.out | tail -n 2 | sed 's/.*): //' | tr '\n' ';')"
		if command -v setcap >/dev/null; then
			mkdir -p /vm/capcriu
			cp /usr/sbin/criu /vm/capcriu/criu
			setcap cap_checkpoint_restore,cap_sys_ptrace+ep /vm/capcriu/criu || info setcap failed
			su -s /bin/sh rl -c "/vm/capcriu/criu check" >/tmp/vmtest.rlcrit.out 2>&1
			info rootless_cap_criu_check "$(grep Error /tmp/vmtest.rlcrit.out | tail -n 2 | sed 's/.*): //' | tr '\n' ';')"
		fi
	fi
	if [ $rc != 0 ]; then
		reason=$(tail -n 1 /tmp/vmtest.rlck.out)
		rl delete -f rlck >/dev/null 2>&1
		skip "CRIU $(criu --version | awk '/Version/ { print $2 }') as rl: $reason"
	fi
	n=$(lines rlck)
	bg rlckr rl restore -d -b $b --image-path /tmp/rlck-img rlck
	grows rlck $((n + 2)) || fail "the restored rootless counter does not count"
	contiguous rlck >/tmp/vmtest.gap || fail "the rootless log: $(cat /tmp/vmtest.gap)"
	rl delete -f rlck >/dev/null 2>&1
	return 0
}

# inside_view ID: what the container sees of its masked paths and its
# cgroup namespace, one line each, from a process exec'd into it.
inside_view() {
	oc exec "$1" sh -c '
		stat -c "kcore %F %t:%T" /proc/kcore
		echo "kcore bytes $(wc -c </proc/kcore)"
		awk "\$5 == \"/proc/kcore\" || \$5 == \"/proc/acpi\" || \$5 == \"/sys/firmware\" { for (i = 7; i < NF; i++) if (\$i == \"-\") { print \"mount\", \$5, \$(i + 1), \$4; break } }" /proc/self/mountinfo | sort
		for d in /proc/acpi /sys/firmware; do
			[ -d $d ] && echo "$d entries $(ls -A $d | wc -l)"
			touch $d/x 2>/dev/null && echo "$d writable"
		done
		echo "init cgroup $(cat /proc/1/cgroup)"
		echo "exec cgroup $(cat /proc/self/cgroup)"
		[ "$(readlink /proc/1/ns/cgroup)" = "$(readlink /proc/self/ns/cgroup)" ] && echo "exec in the init cgroupns"
	' 2>&1
}

# The masked paths (/proc/kcore: the null device bound over it; /proc/acpi
# and /sys/firmware: empty read-only tmpfs) and the cgroup namespace
# (rooted at the container's cgroup) look the same from inside the
# restored container as before the checkpoint, and exec joins them.
check_masked_cgroupns() {
	b=$(counter mk mk '| .linux.maskedPaths |= (. + ["/proc/kcore", "/proc/acpi", "/sys/firmware"] | unique)') || exit
	bg mk oc run -d -b "$b" mk
	grows mk 3 || fail "the counter does not count"
	inside_view mk >/tmp/vmtest.mk.before
	grep -q '^kcore character special file 1:3$' /tmp/vmtest.mk.before || fail "/proc/kcore not masked before the checkpoint: $(head -n 1 /tmp/vmtest.mk.before)"
	grep -q '^init cgroup 0::/$' /tmp/vmtest.mk.before || fail "no cgroup namespace before the checkpoint: $(grep cgroup /tmp/vmtest.mk.before)"
	set -- $(state mk)
	[ "$(readlink /proc/$2/ns/cgroup)" != "$(readlink /proc/self/ns/cgroup)" ] || fail "the container shares the host's cgroup namespace"
	must oc checkpoint --image-path $CK/mk mk
	bg mkr oc restore -d -b "$b" --image-path $CK/mk mk
	set -- $(state mk)
	[ "$(readlink /proc/$2/ns/cgroup)" != "$(readlink /proc/self/ns/cgroup)" ] || fail "the restored init is in the host's cgroup namespace"
	inside_view mk >/tmp/vmtest.mk.after
	diff /tmp/vmtest.mk.before /tmp/vmtest.mk.after >/tmp/vmtest.mk.diff ||
		fail "inside view changed by the restore: $(grep '^[-+][^-+]' /tmp/vmtest.mk.diff | tr '\n' ';')"
	for l in "kcore bytes 0" "mount /proc/kcore [a-z]* /null" "mount /sys/firmware tmpfs /" "/sys/firmware entries 0" "exec cgroup 0::/" "exec in the init cgroupns"; do
		grep -q "^$l" /tmp/vmtest.mk.after || fail "restored container: no \"$l\" in $(tr '\n' ';' </tmp/vmtest.mk.after)"
	done
	grep -q writable /tmp/vmtest.mk.after && fail "a masked directory is writable after the restore"
	info masked_view_after_restore "$(tr '\n' ';' </tmp/vmtest.mk.after)"
	must oc delete -f mk
}

# restore --empty-ns network: the restored container gets a network
# namespace that CRIU leaves as the kernel makes it (the address and the
# up loopback of the dump are not restored); the createRuntime hook, run
# once the namespaces exist, sets it up as a caller would.
check_empty_ns() {
	b=$(counter en en) || exit
	bg en oc run -d -b "$b" en
	grows en 3 || fail "the counter does not count"
	set -- $(state en)
	nsenter -t $2 -n ip link set lo up || fail "ip link set lo up in the container's namespace failed"
	nsenter -t $2 -n ip addr add 10.1.1.1/32 dev lo || fail "ip addr add in the container's namespace failed"
	must oc checkpoint --image-path $CK/en en
	cat >/vm/en-hook.sh <<'HOOK'
#!/bin/sh
pid=$(/usr/bin/jq -r .pid)
/bin/nsenter -t "$pid" -n /usr/sbin/ip link set lo up &&
	/bin/nsenter -t "$pid" -n /usr/sbin/ip addr add 10.2.2.2/32 dev lo
HOOK
	chmod 0755 /vm/en-hook.sh
	b2=$(counter en2 en '| .hooks.createRuntime = [{"path": "/vm/en-hook.sh"}]') || exit
	n=$(lines en)
	bg enr oc restore -d --empty-ns network -b "$b2" --image-path $CK/en en
	a=$(oc exec en ip -o addr show dev lo 2>&1)
	case $a in *10.1.1.1*) fail "the dumped address came back with --empty-ns network: $a" ;; esac
	case $a in *10.2.2.2*) ;; *) fail "the hook's address is missing: $a" ;; esac
	grows en $((n + 2)) || fail "the restored counter does not count"
	contiguous en >/tmp/vmtest.gap || fail "the log: $(cat /tmp/vmtest.gap)"
	must oc delete -f en
}

# wait_file FILE SECONDS waits for FILE to exist.
wait_file() {
	i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1))
		[ $i -le $(($2 * 10)) ] || return 1
		sleep 0.1
	done
}

# Lazy migration (runc's --lazy-pages): the dump writes everything but
# the memory, serves that at --page-server and says so with a zero byte
# on --status-fd; a `criu lazy-pages` daemon fetches it for a restore with
# --lazy-pages into another container (another id and cgroup: the
# original stays frozen until its last page has gone); then the
# checkpoint returns and the original is deleted. The restored counter
# goes on from where the original stopped.
check_lazy_pages() {
	criu check --feature uffd-noncoop >/tmp/vmtest.uffd 2>&1 || skip "no lazy pages here: $(tail -n 1 /tmp/vmtest.uffd)"
	b=$(counter lz lz) || exit
	bg lz oc run -d -b "$b" lz
	grows lz 3 || fail "the counter does not count"
	set -- $(state lz)
	orig=$2
	rm -rf /tmp/lz.fifo /tmp/vmtest.lzck.rc /tmp/vmtest.lzd.rc $CK/lz
	mkfifo /tmp/lz.fifo
	t=$(now)
	(timeout 150 ocikit --root "$STATE" checkpoint --lazy-pages --page-server 127.0.0.1:27277 --status-fd 5 \
		--image-path $CK/lz lz 5>/tmp/lz.fifo >/tmp/vmtest.lzck.out 2>&1
	echo $? >/tmp/vmtest.lzck.rc) &
	st=$(timeout 60 head -c 1 /tmp/lz.fifo | od -An -tx1 | tr -d ' \n')
	[ "$st" = 00 ] || fail "--status-fd gave \"$st\", want one zero byte: $(tail -n 1 /tmp/vmtest.lzck.out)"
	info lazy_dump_ready_seconds "$(since "$t")"
	[ -e $CK/lz/inventory.img ] || fail "no inventory.img when the status fd said ready"
	[ -e /tmp/vmtest.lzck.rc ] && fail "checkpoint --lazy-pages returned before its memory was fetched: $(tail -n 1 /tmp/vmtest.lzck.out)"
	[ -e /proc/$orig ] || fail "the original's init is gone during the lazy dump"
	(criu lazy-pages --page-server --address 127.0.0.1 --port 27277 -D $CK/lz -v4 -o lazy-pages.log
	echo $? >/tmp/vmtest.lzd.rc) &
	wait_file $CK/lz/lazy-pages.socket 30 || fail "criu lazy-pages made no socket: $(grep Error $CK/lz/lazy-pages.log | tail -n 1)"
	b2=$(counter lz2 lz '| .linux.cgroupsPath = "/lz2"') || exit
	n=$(lines lz)
	t=$(now)
	bg lz2 oc restore -d --lazy-pages -b "$b2" --image-path $CK/lz lz2
	info lazy_restore_seconds "$(since "$t")"
	grows lz $((n + 2)) || fail "the lazily restored counter does not count"
	wait_file /tmp/vmtest.lzck.rc 120 || fail "checkpoint --lazy-pages did not return within 120s of the restore"
	[ "$(cat /tmp/vmtest.lzck.rc)" = 0 ] || fail "checkpoint --lazy-pages: $(tail -n 1 /tmp/vmtest.lzck.out)"
	info lazy_dump_total_seconds "$(log_seconds $CK/lz/dump.log)"
	oc state lz >/dev/null 2>&1 && fail "the original still exists after its lazy dump finished"
	wait_file /tmp/vmtest.lzd.rc 60 || fail "criu lazy-pages did not exit"
	[ "$(cat /tmp/vmtest.lzd.rc)" = 0 ] || fail "criu lazy-pages: $(grep Error $CK/lz/lazy-pages.log | tail -n 1)"
	info lazy_page_faults "$(grep -c '#PF' $CK/lz/lazy-pages.log)"
	n=$(lines lz)
	grows lz $((n + 2)) || fail "the restored counter stopped after the transfer"
	contiguous lz >/tmp/vmtest.gap || fail "the log: $(cat /tmp/vmtest.gap)"
	must oc delete -f lz2
}

# A hybrid and a v1 cgroup host, each in a mount namespace of its own
# (the VM is pure v2): /sys/fs/cgroup a tmpfs holding v1 hierarchies
# (devices, freezer, the named systemd one), with the cgroup2 hierarchy at
# unified beside them for hybrid. The container's cgroup mount is a tmpfs
# with a bind of its cgroup in each hierarchy; checkpointed and restored
# into another cgroupsPath (paused first: CRIU takes it through the v1
# freezer's cgroup), the restored init is in the new cgroups in
# every hierarchy (CRIU's cgroup roots: name=systemd by that name, as runc
# gives it) and the binds (external mounts) point at them.
check_cgroup_v1_mount() {
	for layout in hybrid v1; do
		unshare -m --propagation private sh -c '. /vm/checks.sh; v1_layout_ck '$layout || exit $?
	done
}

v1_layout_ck() {
	mount -t tmpfs -o mode=755 cgroup $CG || fail "tmpfs on $CG failed"
	hs="devices freezer systemd"
	if [ $1 = hybrid ]; then
		mkdir -p $CG/unified
		mount -t cgroup2 -o nsdelegate cgroup2 $CG/unified || fail "cgroup2 on $CG/unified failed"
		hs="$hs unified"
	fi
	# devices and freezer have no cgroup2 interface files: free for v1.
	for h in devices freezer none,name=systemd; do
		d=$CG/${h#none,name=}
		mkdir -p $d
		mount -t cgroup -o $h cgroup $d 2>/tmp/vmtest.hy.err || skip "no cgroup v1 hierarchy $h: $(cat /tmp/vmtest.hy.err)"
	done
	cid=$1-ck
	b=$(counter $cid $cid '| .linux.cgroupsPath = "/'$cid'-old"') || exit
	bg $cid oc run -d -b "$b" $cid
	grows $cid 3 || fail "$1: the counter does not count"
	set -- $1 $(state $cid)
	grep -q ":name=systemd:/$cid-old\$" /proc/$3/cgroup || fail "$1: not in the named hierarchy: $(cat /proc/$3/cgroup | tr '\n' ' ')"
	# Paused (by the v1 freezer), as a checkpoint of a paused container:
	# CRIU is given that freezer's cgroup.
	must oc pause $cid
	must oc checkpoint --image-path $CK/$cid $cid
	b2=$(counter $cid-2 $cid '| .linux.cgroupsPath = "/'$cid'-new"') || exit
	n=$(lines $cid)
	bg ${cid}r oc restore -d -b "$b2" --image-path $CK/$cid $cid
	set -- $1 $(state $cid)
	for h in $hs; do
		want=":/$cid-new"
		[ $h = unified ] && want="0::/$cid-new"
		grep "$want\$" /proc/$3/cgroup | grep -q "${h#unified}" ||
			fail "$1: restored init in $(cat /proc/$3/cgroup | tr '\n' ' '), want /$cid-new in $h"
		r=$(awk -v m=/sys/fs/cgroup/$h '$5 == m { print $4 }' /proc/$3/mountinfo)
		[ "$r" = /$cid-new ] || fail "$1: restored /sys/fs/cgroup/$h binds \"$r\", want /$cid-new"
	done
	grows $cid $((n + 2)) || fail "$1: the restored counter does not count"
	contiguous $cid >/tmp/vmtest.gap || fail "$1: the log: $(cat /tmp/vmtest.gap)"
	info ${1}_restored_cgroups "$(grep -v '^0::' /proc/$3/cgroup | tr '\n' ' ')"
	must oc delete -f $cid
}

# lazy_once TOOL ID BUNDLE2 PORT: a lazy migration of the running
# container ID to ID-l (BUNDLE2: another cgroup) with TOOL (ocikit or
# runc), as check_lazy_pages does; appends the seconds until the status
# fd's byte, of the lazy restore and of CRIU's whole dump (until the last
# page went) to /tmp/vmtest.TOOL.lz{ready,restore,dump}.
lazy_once() {
	case $1 in
	ocikit) R="ocikit --root $STATE" ;;
	runc) R="runc --root /run/runc" ;;
	esac
	img=$CK/$2-lazy
	rm -rf /tmp/lz.fifo /tmp/vmtest.lzck.rc /tmp/vmtest.lzd.rc $img
	mkdir -p $img
	mkfifo /tmp/lz.fifo
	t=$(now)
	(timeout 150 $R checkpoint --lazy-pages --page-server 127.0.0.1:$4 --status-fd 5 --image-path $img $2 \
		5>/tmp/lz.fifo >/tmp/vmtest.lzck.out 2>&1
	echo $? >/tmp/vmtest.lzck.rc) &
	st=$(timeout 60 head -c 1 /tmp/lz.fifo | od -An -tx1 | tr -d ' \n')
	[ "$st" = 00 ] || fail "$1: --status-fd gave \"$st\": $(tail -n 1 /tmp/vmtest.lzck.out)"
	echo "$(since "$t")" >>/tmp/vmtest.$1.lzready
	(criu lazy-pages --page-server --address 127.0.0.1 --port $4 -D $img -v4 -o lazy-pages.log
	echo $? >/tmp/vmtest.lzd.rc) &
	wait_file $img/lazy-pages.socket 30 || fail "$1: criu lazy-pages made no socket"
	t=$(now)
	bg $2-l $R restore -d --lazy-pages -b "$3" --image-path $img $2-l
	echo "$(since "$t")" >>/tmp/vmtest.$1.lzrestore
	wait_file /tmp/vmtest.lzck.rc 120 || fail "$1: checkpoint --lazy-pages did not return"
	[ "$(cat /tmp/vmtest.lzck.rc)" = 0 ] || fail "$1: checkpoint --lazy-pages: $(tail -n 1 /tmp/vmtest.lzck.out)"
	echo "$(log_seconds $img/dump.log)" >>/tmp/vmtest.$1.lzdump
	wait_file /tmp/vmtest.lzd.rc 60 || fail "$1: criu lazy-pages did not exit"
	[ "$(cat /tmp/vmtest.lzd.rc)" = 0 ] || fail "$1: criu lazy-pages: $(grep Error $img/lazy-pages.log | tail -n 1)"
}

# The lazy migration of a container holding 64 MiB resident (as
# times-64m), ocikit next to runc: seconds until the page server is
# ready, of the lazy restore (which no longer waits for the memory) and
# of CRIU's whole dump; the restored dd has all 64 MiB back once the
# daemon has fetched the rest in the background.
check_lazy_64m() {
	b=$(bundle lm64 '.process.args = ["sh", "-c", "dd if=/dev/zero bs=64M count=1 2>/dev/null | sleep 100000"]') || exit
	b2=$(bundle lm64b '.process.args = ["sh", "-c", "dd if=/dev/zero bs=64M count=1 2>/dev/null | sleep 100000"] | .linux.cgroupsPath = "/lazy64"') || exit
	tools=ocikit
	command -v runc >/dev/null && tools="ocikit runc"
	rounds=$(vm_rounds)
	port=27300
	for round in $(seq "$rounds"); do
		for tool in $tools; do
			case $tool in
			ocikit) R=oc ;;
			runc) R="runc --root /run/runc" ;;
			esac
			bg lz$tool$round $R run -d -b "$b" lz$tool$round
			wait_rss dd 65536
			port=$((port + 1))
			lazy_once $tool lz$tool$round "$b2" $port
			wait_rss dd 65536
			must $R delete -f lz$tool$round-l
		done
	done
	for tool in $tools; do
		info ${tool}_lazy_64m_ready_seconds "$(echo $(cat /tmp/vmtest.$tool.lzready))"
		info ${tool}_lazy_64m_restore_seconds "$(echo $(cat /tmp/vmtest.$tool.lzrestore))"
		info ${tool}_lazy_64m_criu_dump_seconds "$(echo $(cat /tmp/vmtest.$tool.lzdump))"
	done
}

# checkpoint --page-server without --lazy-pages: the dump sends the
# memory to a `criu page-server` (here on the loopback, writing into the
# same images directory, as runc's test does) instead of writing it
# itself; the restore from that directory goes on where it stopped.
check_page_server() {
	b=$(counter ps ps) || exit
	bg ps oc run -d -b "$b" ps
	grows ps 3 || fail "the counter does not count"
	rm -rf $CK/ps /tmp/vmtest.psd.rc
	mkdir -p $CK/ps
	(criu page-server --address 127.0.0.1 --port 27400 -D $CK/ps -v4 -o page-server.log
	echo $? >/tmp/vmtest.psd.rc) &
	i=0
	until grep -q "Running status-ready scripts" $CK/ps/page-server.log 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 300 ] || fail "criu page-server did not start: $(tail -n 1 $CK/ps/page-server.log)"
		sleep 0.1
	done
	must oc checkpoint --page-server 127.0.0.1:27400 --image-path $CK/ps ps
	wait_file /tmp/vmtest.psd.rc 30 || fail "criu page-server did not exit after the dump"
	[ "$(cat /tmp/vmtest.psd.rc)" = 0 ] || fail "criu page-server: $(grep Error $CK/ps/page-server.log | tail -n 1)"
	grep -q "Connecting to server 127.0.0.1:27400" $CK/ps/dump.log || fail "the dump did not connect to the page server"
	ls $CK/ps/pages-*.img >/dev/null 2>&1 || fail "no pages from the page server in the images"
	n=$(lines ps)
	bg psr oc restore -d -b "$b" --image-path $CK/ps ps
	grows ps $((n + 2)) || fail "the restored counter does not count"
	contiguous ps >/tmp/vmtest.gap || fail "the log: $(cat /tmp/vmtest.gap)"
	must oc delete -f ps
}
