//go:build linux && cgo

package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// BenchmarkValidate compiles (without loading) a profile the size of
// Docker's default: every known syscall allowed by name, a default errno.
func BenchmarkValidate(b *testing.B) {
	var names []string
	for n := 0; n < 1024; n++ {
		if name, err := libseccomp.ScmpSyscall(n).GetName(); err == nil {
			names = append(names, name)
		}
	}
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: names, Action: specs.ActAllow},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}}},
		},
	}
	b.Logf("%d syscalls", len(names))
	for b.Loop() {
		if err := Validate(cfg); err != nil {
			b.Fatal(err)
		}
	}
}
