//go:build linux && cgo

package seccomp

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzValidate feeds arbitrary linux.seccomp JSON through the compiler
// (without loading it): errors are fine, panics are not.
func FuzzValidate(f *testing.F) {
	f.Add(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}`)
	f.Add(`{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86","SCMP_ARCH_S390X"],"flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"valueTwo":1,"op":"SCMP_CMP_MASKED_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]}]}`)
	f.Add(`{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}`)
	f.Fuzz(func(t *testing.T, data string) {
		var c specs.LinuxSeccomp
		if json.Unmarshal([]byte(data), &c) != nil {
			return
		}
		if err := Validate(&c); err == nil {
			if _, err := Compile(&c); err != nil {
				t.Fatalf("Validate accepted what Compile refuses: %v", err)
			}
		}
	})
}
