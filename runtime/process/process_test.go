package process

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/runtime/rules"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateRlimits(t *testing.T) {
	tests := []struct {
		name string
		in   []specs.POSIXRlimit
		want string
	}{
		{"ok", []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}, {Type: "RLIMIT_CORE"}}, ""},
		{"unknown", []specs.POSIXRlimit{{Type: "RLIMIT_FOO"}}, `rlimit "RLIMIT_FOO": unknown type`},
		{"lowercase", []specs.POSIXRlimit{{Type: "rlimit_nofile"}}, `"rlimit_nofile": unknown`},
		{"duplicate", []specs.POSIXRlimit{{Type: "RLIMIT_NPROC"}, {Type: "RLIMIT_NPROC"}}, `"RLIMIT_NPROC": duplicated`},
		{"soft above hard", []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 3, Hard: 2}}, "soft limit 3 exceeds hard limit 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, ValidateRlimits(tc.in), tc.want)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error containing %q", err, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("%v does not wrap ErrInvalid", err)
	}
}

func TestParseCapability(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"CAP_CHOWN", true}, {"CAP_SYS_ADMIN", true}, {"CAP_CHECKPOINT_RESTORE", true}, {"CAP_BPF", true},
		{"cap_chown", false}, {"CHOWN", false}, {"CAP_FOO", false}, {"", false}, {"CAP_", false}, {"CAP_Chown", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c, err := ParseCapability(tc.in)
			if tc.ok {
				if err != nil || capName(c) != tc.in {
					t.Fatalf("ParseCapability(%q) = %v (%s), %v", tc.in, c, capName(c), err)
				}
				return
			}
			checkErr(t, err, `capability "`+tc.in+`": unknown`)
		})
	}
	// Every name the shared table knows parses, and only those.
	for _, name := range rules.Capabilities() {
		if _, err := ParseCapability(name); err != nil {
			t.Errorf("ParseCapability(%q): %v", name, err)
		}
	}
	unknown := UnknownCapabilities(&specs.LinuxCapabilities{Bounding: []string{"CAP_FOO", "CAP_CHOWN"}, Effective: []string{"CAP_FOO", "CAP_BAR"}})
	if !slices.Equal(unknown, []string{"CAP_FOO", "CAP_BAR"}) {
		t.Errorf("UnknownCapabilities = %q, want CAP_FOO once and CAP_BAR", unknown)
	}
}

func TestValidateSysctls(t *testing.T) {
	all := []specs.LinuxNamespace{{Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}}
	none := []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}}
	tests := []struct {
		key  string
		ns   []specs.LinuxNamespace
		want string
	}{
		{"net.ipv4.ip_forward", all, ""},
		{"net/ipv4/ip_forward", all, ""},
		{"net.core.somaxconn", none, "needs a network namespace"},
		{"kernel.shmmax", all, ""},
		{"kernel.shmmax", none, "needs a ipc namespace"},
		{"kernel.msgmnb", all, ""},
		{"kernel.sem", all, ""},
		{"fs.mqueue.msg_max", all, ""},
		{"fs.mqueue.msg_max", none, "needs a ipc namespace"},
		{"kernel.hostname", all, ""},
		{"kernel.domainname", none, "needs a uts namespace"},
		{"kernel.panic", all, "not namespaced"},
		{"vm.swappiness", all, "not namespaced"},
		{"fs.file-max", all, "not namespaced"},
		{"net..x", all, "malformed"},
		{"", all, "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			checkErr(t, ValidateSysctls(map[string]string{tc.key: "1"}, tc.ns), tc.want)
		})
	}
}

func TestValidateScheduler(t *testing.T) {
	tests := []struct {
		name string
		in   specs.Scheduler
		want string
	}{
		{"other", specs.Scheduler{Policy: specs.SchedOther, Nice: 5}, ""},
		{"fifo", specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}, ""},
		{"deadline", specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 2e6, Period: 3e6}, ""},
		{"unknown policy", specs.Scheduler{Policy: "SCHED_FOO"}, `policy "SCHED_FOO": unknown`},
		{"unknown flag", specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_FOO"}}, `flag "SCHED_FLAG_FOO"`},
		{"nice", specs.Scheduler{Policy: specs.SchedOther, Nice: 20}, "nice 20"},
		{"rr priority", specs.Scheduler{Policy: specs.SchedRR}, "priority 0"},
		{"other priority", specs.Scheduler{Policy: specs.SchedBatch, Priority: 3}, "priority 3"},
		{"deadline fields", specs.Scheduler{Policy: specs.SchedDeadline}, "needs runtime and deadline"},
		{"runtime without deadline policy", specs.Scheduler{Policy: specs.SchedOther, Runtime: 5}, "only for SCHED_DEADLINE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkErr(t, ValidateScheduler(&tc.in), tc.want) })
	}
}

func TestValidateIOPriority(t *testing.T) {
	checkErr(t, ValidateIOPriority(&specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 7}), "")
	checkErr(t, ValidateIOPriority(&specs.LinuxIOPriority{Class: "IOPRIO_CLASS_FOO"}), `class "IOPRIO_CLASS_FOO"`)
	checkErr(t, ValidateIOPriority(&specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 8}), "priority 8")
}

func TestMemoryPolicyArgs(t *testing.T) {
	tests := []struct {
		name string
		in   specs.LinuxMemoryPolicy
		mode int
		mask []uint64
		want string
	}{
		{"default", specs.LinuxMemoryPolicy{Mode: specs.MpolDefault}, 0, nil, ""},
		{"bind", specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0-3,7"}, 2, []uint64{0x8f}, ""},
		{"interleave static", specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "65", Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}}, 3 | 1<<15, []uint64{0, 2}, ""},
		{"preferred empty", specs.LinuxMemoryPolicy{Mode: specs.MpolPreferred}, 1, nil, ""},
		{"unknown mode", specs.LinuxMemoryPolicy{Mode: "MPOL_FOO"}, 0, nil, `mode "MPOL_FOO"`},
		{"unknown flag", specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{"MPOL_F_FOO"}}, 0, nil, `flag "MPOL_F_FOO"`},
		{"bind without nodes", specs.LinuxMemoryPolicy{Mode: specs.MpolBind}, 0, nil, "needs nodes"},
		{"local with nodes", specs.LinuxMemoryPolicy{Mode: specs.MpolLocal, Nodes: "0"}, 0, nil, "takes no nodes"},
		{"bad range", specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "3-1"}, 0, nil, "bad range"},
		{"bad number", specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "x"}, 0, nil, "bad number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mode, mask, err := memoryPolicyArgs(&tc.in)
			checkErr(t, err, tc.want)
			if tc.want == "" && (mode != tc.mode || !slices.Equal(mask, tc.mask)) {
				t.Fatalf("got mode %#x mask %v, want %#x %v", mode, mask, tc.mode, tc.mask)
			}
		})
	}
}

func TestValidateSpec(t *testing.T) {
	adj := 2000
	err := ValidateSpec(&specs.Spec{
		Process: &specs.Process{
			Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}},
			Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_BOGUS"}},
			OOMScoreAdj:  &adj,
		},
		Linux: &specs.Linux{
			Sysctl:      map[string]string{"kernel.panic": "1"},
			Personality: &specs.LinuxPersonality{Domain: "BSD"},
		},
	})
	for _, want := range []string{"RLIMIT_BOGUS", "oomScoreAdj 2000", "kernel.panic", `"BSD"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateSpec error %v lacks %q", err, want)
		}
	}
	// An unknown capability is a warning (config.md "capabilities"), not an error.
	if err != nil && strings.Contains(err.Error(), "CAP_BOGUS") {
		t.Errorf("ValidateSpec reports the unknown capability as an error: %v", err)
	}
	var logged bytes.Buffer
	err = ValidateSpec(&specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_BOGUS"}}}},
		WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	if err != nil || !strings.Contains(logged.String(), "CAP_BOGUS") {
		t.Errorf("unknown capability: error %v, warnings %q", err, logged.String())
	}
	checkErr(t, ValidatePersonality(&specs.LinuxPersonality{Domain: specs.PerLinux32}), "")
	checkErr(t, ValidatePersonality(&specs.LinuxPersonality{Domain: specs.PerLinux, Flags: []specs.LinuxPersonalityFlag{"X"}}), `flag "X"`)
	if err := ValidateSpec(&specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{}}); err != nil {
		t.Errorf("empty spec: %v", err)
	}
}
