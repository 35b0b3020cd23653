package process

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ipcSysctls are the kernel.* sysctls scoped by the IPC namespace.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true,
	"kernel.sem": true, "kernel.shmall": true, "kernel.shmmax": true,
	"kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// SysctlNamespace returns the namespace that scopes sysctl key ("net.*":
// network; System V IPC and fs.mqueue.*: ipc; kernel.hostname and
// kernel.domainname: uts), or "" when the key is not namespaced and
// writing it would change the host. Keys may use "/" or "." separators.
func SysctlNamespace(key string) specs.LinuxNamespaceType {
	k := strings.ReplaceAll(key, "/", ".")
	switch {
	case ipcSysctls[k] || strings.HasPrefix(k, "fs.mqueue."):
		return specs.IPCNamespace
	case strings.HasPrefix(k, "net."):
		return specs.NetworkNamespace
	case k == "kernel.hostname" || k == "kernel.domainname":
		return specs.UTSNamespace
	}
	return ""
}

// ValidateSysctls checks, as runc does, that every key is scoped by a
// namespace the container gets of its own (a namespace entry without a
// path; a path joins an existing namespace, which is accepted since it is
// not the host's unless the caller made it so).
func ValidateSysctls(sysctl map[string]string, namespaces []specs.LinuxNamespace) error {
	has := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range namespaces {
		has[ns.Type] = true
	}
	for _, k := range sortedKeys(sysctl) {
		if k == "" || strings.Contains(k, "..") || strings.HasPrefix(k, ".") || strings.HasPrefix(k, "/") {
			return invalid("sysctl %q: malformed key", k)
		}
		ns := SysctlNamespace(k)
		if ns == "" {
			return invalid("sysctl %q: not namespaced, it would change the host", k)
		}
		if !has[ns] {
			return invalid("sysctl %q: needs a %s namespace", k, ns)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	// small maps: insertion sort keeps this dependency-free and stable
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
