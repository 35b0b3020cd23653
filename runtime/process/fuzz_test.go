package process

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func FuzzParseList(f *testing.F) {
	for _, s := range []string{"0", "0-3,7", "1,2,3", "", "3-1", "x", "0-65535", " 1 , 2-4 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mask, err := parseList("nodes", s, 4096)
		if err != nil {
			return
		}
		if len(mask) > 4096/64 {
			t.Fatalf("mask of %d words for limit 4096", len(mask))
		}
	})
}

func FuzzValidateNames(f *testing.F) {
	f.Add("CAP_SYS_ADMIN", "RLIMIT_NOFILE", "net.ipv4.ip_forward", "SCHED_FIFO")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, capName, rlimit, sysctl, policy string) {
		_ = ValidateSpec(&specs.Spec{
			Process: &specs.Process{
				Capabilities: &specs.LinuxCapabilities{Bounding: []string{capName}},
				Rlimits:      []specs.POSIXRlimit{{Type: rlimit}},
				Scheduler:    &specs.Scheduler{Policy: specs.LinuxSchedulerPolicy(policy)},
			},
			Linux: &specs.Linux{Sysctl: map[string]string{sysctl: "1"}},
		})
		if c, err := ParseCapability(capName); err == nil && capName != "CAP_"+strings.ToUpper(c.String()) {
			t.Fatalf("ParseCapability(%q) accepted a different spelling", capName)
		}
	})
}
