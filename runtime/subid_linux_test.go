package runtime

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSubIDCheck(t *testing.T) {
	const file = `# comment
alice:100000:65536
bob:165536:65536
1001:300000:10
alice:165536:100
alice:bad:1
alice:500000:0
`
	m := func(c, h, n uint32) specs.LinuxIDMapping {
		return specs.LinuxIDMapping{ContainerID: c, HostID: h, Size: n}
	}
	tests := []struct {
		name    string
		user    string
		id      uint32
		maps    []specs.LinuxIDMapping
		wantErr string // "" for none
	}{
		{"own id and range", "alice", 1001, []specs.LinuxIDMapping{m(0, 1001, 1), m(1, 100000, 65536)}, ""},
		{"adjacent grants join", "alice", 1001, []specs.LinuxIDMapping{m(0, 100000, 65636)}, ""},
		{"numeric owner", "alice", 1001, []specs.LinuxIDMapping{m(0, 300000, 10)}, ""},
		{"inside a range", "alice", 1001, []specs.LinuxIDMapping{m(1000, 100999, 1)}, ""},
		{"past the end", "alice", 1001, []specs.LinuxIDMapping{m(0, 100000, 65637)},
			"uidMappings: host uids 100000-165636 (container uids 0-65636) are outside the subordinate uids /etc/subuid grants user alice (uid 1001): 100000-165535, 300000-300009, 165536-165635"},
		{"another user's range", "bob", 1002, []specs.LinuxIDMapping{m(1, 100000, 10)},
			"host uids 100000-100009 (container uids 1-10) are outside"},
		{"own id, more than one", "carol", 1003, []specs.LinuxIDMapping{m(0, 1003, 2)},
			"uidMappings: user carol (uid 1003) has no subordinate uids in /etc/subuid (needed to map host uid 1003)"},
		{"no name", "", 1004, []specs.LinuxIDMapping{m(0, 1004, 1), m(1, 100000, 1)},
			"uidMappings: uid 1004 has no subordinate uids in /etc/subuid"},
		{"own id alone", "carol", 1003, []specs.LinuxIDMapping{m(5, 1003, 1)}, ""},
		{"size 0", "alice", 1001, []specs.LinuxIDMapping{m(0, 100000, 0)}, "size must not be 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &subIDs{kind: "uid", file: "/etc/subuid", user: tc.user, uid: tc.id, id: tc.id, ranges: parseSubIDs([]byte(file), tc.user, tc.id)}
			err := s.check("uidMappings", tc.maps)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("check: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("check: %v, want an error containing %q", err, tc.wantErr)
			case err != nil && !errors.Is(err, ErrInvalidSpec):
				t.Fatalf("check: %v is not ErrInvalidSpec", err)
			}
		})
	}
}

func TestSubIDsFromFiles(t *testing.T) {
	tests := []struct {
		nss  string
		want bool
	}{
		{"passwd: files\ngroup: files\n", true},
		{"subid: files\n", true},
		{"subid:   files   # local\n", true},
		{"# subid: sss\n", true},
		{"subid: sss\n", false},
		{"subid: files sss\n", false},
	}
	for _, tc := range tests {
		if got := subIDsFromFiles([]byte(tc.nss)); got != tc.want {
			t.Errorf("subIDsFromFiles(%q) = %v, want %v", tc.nss, got, tc.want)
		}
	}
}

// TestSubGIDOwner: /etc/subgid names its owners by user (login name or
// uid, subgid(5)), while the id needing no grant is the caller's gid.
func TestSubGIDOwner(t *testing.T) {
	const file = "1001:200000:100\n"
	s := &subIDs{kind: "gid", file: "/etc/subgid", user: "alice", uid: 1001, id: 2002, ranges: parseSubIDs([]byte(file), "alice", 1001)}
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 2002, Size: 1}, {ContainerID: 1, HostID: 200000, Size: 100}}
	if err := s.check("gidMappings", m); err != nil {
		t.Fatalf("check: %v", err)
	}
	m = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}}
	err := s.check("gidMappings", m)
	if want := "gidMappings: host gids 1001-1001 (container gids 0-0) are outside the subordinate gids /etc/subgid grants user alice (uid 1001): 200000-200099"; err == nil || err.Error() != want {
		t.Fatalf("check of the uid as a gid: %v, want %q", err, want)
	}
}
