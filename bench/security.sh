#!/usr/bin/env bash
# bench/security.sh: the cost of a hardened container: N sequential `run` of
# /bin/true with a Docker-sized seccomp profile (every syscall of the host's
# unistd_64.h allowed by name, default errno, a few argument rules), cgroup
# limits (memory, pids, cpu, a deny-all device list), rlimits, a non-root
# user and a reduced capability set; ocikit, crun and runc side by side,
# then the same without seccomp to isolate the filter's cost.
#
#   OCIKIT=bin/ocikit N=50 bash bench/security.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OCIKIT=${OCIKIT:-$here/../bin/ocikit}
N=${N:-50}
[[ $(id -u) == 0 ]] || { echo "security bench: needs root" >&2; exit 1; }
bb=$(command -v busybox) || { echo "security bench: busybox-static missing" >&2; exit 1; }
unistd=/usr/include/x86_64-linux-gnu/asm/unistd_64.h
[[ -r $unistd ]] || { echo "security bench: $unistd missing (linux-libc-dev)" >&2; exit 1; }

work=$(mktemp -d /tmp/ocikit-bench-security.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/bundle/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp "$bb" "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
(cd "$work/bundle" && "$OCIKIT" spec)
python3 - "$work/bundle/config.json" "$unistd" <<'PY'
import json, re, sys
p, unistd = sys.argv[1], sys.argv[2]
names = sorted(set(re.findall(r"#define __NR_(\w+)", open(unistd).read())))
c = json.load(open(p))
c["ociVersion"] = "1.0.2"  # crun 1.8 rejects 1.3.0
pr = c["process"]
pr["terminal"] = False
pr["args"] = ["/bin/true"]
pr["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10]}
pr["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
                 {"type": "RLIMIT_NPROC", "soft": 512, "hard": 512},
                 {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"]
pr["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
pr["oomScoreAdj"] = 100
c["linux"]["resources"] = {
    "devices": [{"allow": False, "access": "rwm"}],
    "memory": {"limit": 128 << 20},
    "pids": {"limit": 100},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
}
c["linux"]["seccomp"] = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        {"names": [n for n in names if n not in ("personality", "clone", "socket")], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
    ],
}
json.dump(c, open(p, "w"))
nos = dict(c)
nos["linux"] = dict(c["linux"])
del nos["linux"]["seccomp"]
nos["root"] = dict(c["root"], path=p.replace("config.json", "rootfs"))
json.dump(nos, open(p.replace("config.json", "config-noseccomp.json"), "w"))
print(f"profile: {len(names)} syscalls", file=sys.stderr)
PY
mkdir -p "$work/bundle-noseccomp"
mv "$work/bundle/config-noseccomp.json" "$work/bundle-noseccomp/config.json"

# crun 1.8 refuses this host's hybrid cgroup layout unless the cgroup2
# mount at /sys/fs/cgroup/unified is gone: each loop runs in a private mount
# namespace, without it for crun.
cat >"$work/loop.sh" <<'SH'
rt=$1; root=$2; n=$3; bundle=$4
if [ "$(basename "$rt")" = crun ]; then umount /sys/fs/cgroup/unified 2>/dev/null || true; fi
cd "$bundle"
start=$(date +%s%N)
i=0
while [ $i -lt $n ]; do
	"$rt" --root "$root" run "s$i" >/dev/null || { echo "$rt run failed" >&2; exit 1; }
	i=$((i + 1))
done
end=$(date +%s%N)
echo $(( (end - start) / n / 1000 ))
SH

declare -A us
for b in bundle bundle-noseccomp; do
	for rt in "$OCIKIT" crun runc; do
		name=$(basename "$rt")
		command -v "$rt" >/dev/null || { echo "$name: not installed, skipped"; continue; }
		mkdir -p "$work/root-$name"
		unshare -m sh "$work/loop.sh" "$rt" "$work/root-$name" 1 "$work/$b" >/dev/null
		us[$b/$name]=$(unshare -m sh "$work/loop.sh" "$rt" "$work/root-$name" "$N" "$work/$b")
	done
done

printf '%-8s %18s %18s %12s\n' runtime "ms (hardened)" "ms (no seccomp)" "vs ocikit"
o=${us[bundle/ocikit]:-0}
for name in ocikit crun runc; do
	[[ -n ${us[bundle/$name]:-} ]] || continue
	awk -v n="$name" -v t="${us[bundle/$name]}" -v s="${us[bundle-noseccomp/$name]:-0}" -v o="$o" \
		'BEGIN { r = (o > 0) ? t / o : 0; printf "%-8s %18.2f %18.2f %11.2fx\n", n, t / 1000, s / 1000, r }'
done
