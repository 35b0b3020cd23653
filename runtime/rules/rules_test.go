package rules

import (
	"regexp"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// semverRE is semver.org's recommended expression, the reference for SemVer.
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

func TestSemVer(t *testing.T) {
	for _, tc := range []struct {
		v         string
		ok        bool
		supported bool
	}{
		{"1.0.0", true, true},
		{"1.3.0", true, true},
		{"1.0.2-dev", true, true},
		{"1.2.3-rc.1+build.5", true, true},
		{"1.0.0-0.3.7", true, true},
		{"1.0.0-x-y-z.--", true, true},
		{"1.0.0+20130313144700", true, true},
		{"2.0.0", true, false},
		{"0.5.0", true, false},
		{"10.20.30", true, false},
		{"1.0", false, false},
		{"1.0.0.0", false, false},
		{"01.0.0", false, false},
		{"1.00.0", false, false},
		{"1.0.0-01", false, false},
		{"1.0.0-", false, false},
		{"1.0.0-rc..1", false, false},
		{"1.0.0+", false, false},
		{"1.0.0+a..b", false, false},
		{"1.0.0-rc_1", false, false},
		{"v1.0.0", false, false},
		{"", false, false},
		{"1.0.0 ", false, false},
		{"99999999999999999999.0.0", true, false},
	} {
		t.Run(tc.v, func(t *testing.T) {
			_, ok := SemVer(tc.v)
			if ok != tc.ok {
				t.Errorf("SemVer(%q) ok = %v, want %v", tc.v, ok, tc.ok)
			}
			if ok != semverRE.MatchString(tc.v) {
				t.Errorf("SemVer(%q) = %v disagrees with semver.org's expression", tc.v, ok)
			}
			if got := SupportedVersion(tc.v); got != tc.supported {
				t.Errorf("SupportedVersion(%q) = %v, want %v", tc.v, got, tc.supported)
			}
		})
	}
}

func FuzzSemVer(f *testing.F) {
	for _, s := range []string{"1.0.0", "1.2.3-rc.1+b", "01.0.0", "1.0.0-01", "1.0.0+a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if _, ok := SemVer(v); ok != semverRE.MatchString(v) {
			t.Errorf("SemVer(%q) = %v, semver.org's expression says %v", v, ok, !ok)
		}
	})
}

func TestTables(t *testing.T) {
	if n := len(RlimitNames()); n != 16 {
		t.Errorf("%d rlimit types, want the 16 of getrlimit(2)", n)
	}
	if r, ok := Rlimit("RLIMIT_NOFILE"); !ok || r != 7 {
		t.Errorf("RLIMIT_NOFILE = %d, %v", r, ok)
	}
	caps := Capabilities()
	for _, c := range []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"} {
		if !slices.Contains(caps, c) || !IsCapability(c) {
			t.Errorf("%s missing", c)
		}
	}
	if IsCapability("CAP_sys_admin") || IsCapability("SYS_ADMIN") {
		t.Error("capability names are case-sensitive and carry CAP_")
	}
	// Every type the spec's Go types name, exactly once.
	want := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.MountNamespace,
		specs.IPCNamespace, specs.UTSNamespace, specs.UserNamespace, specs.CgroupNamespace, specs.TimeNamespace}
	if len(Namespaces()) != len(want) {
		t.Errorf("%d namespaces, want %d", len(Namespaces()), len(want))
	}
	for _, ty := range want {
		if ns, ok := LookupNamespace(ty); !ok || ns.CloneFlag == 0 || ns.ProcName == "" {
			t.Errorf("%s: %+v, %v", ty, ns, ok)
		}
	}
}
