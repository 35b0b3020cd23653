package runtime

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// subIDRange is one grant of /etc/subuid or /etc/subgid (subuid(5)): host
// ids start … start+count-1, which newuidmap and newgidmap let their owner
// map into the user namespaces it creates.
type subIDRange struct{ start, count uint64 }

func (r subIDRange) String() string { return fmt.Sprintf("%d-%d", r.start, r.start+r.count-1) }

// subIDs are the ranges one user is granted in one file.
type subIDs struct {
	kind   string // "uid" or "gid"
	file   string // /etc/subuid or /etc/subgid
	user   string // the login name, "" when the uid has none
	uid    uint32 // the user's uid: both files name their owner by user
	id     uint32 // the caller's own uid or gid, which needs no grant
	ranges []subIDRange
}

// parseSubIDs reads the grants of content (a subuid(5) or subgid(5) file)
// whose owner is the login name user or the numeric uid: lines
// "owner:start:count", as shadow's newuidmap and newgidmap match them.
// Malformed lines are skipped, as shadow skips them.
func parseSubIDs(content []byte, user string, uid uint32) []subIDRange {
	var out []subIDRange
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || (f[0] != user && f[0] != strconv.FormatUint(uint64(uid), 10)) {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 {
			continue
		}
		out = append(out, subIDRange{start, count})
	}
	return out
}

// covers reports whether the host ids start … start+count-1 lie within
// the ranges; adjacent or overlapping grants join up (shadow's
// have_range).
func (s *subIDs) covers(start, count uint64) bool {
	if count == 0 {
		return false
	}
	end := start + count // exclusive
	for start < end {
		next := start
		for _, r := range s.ranges {
			if start >= r.start && start < r.start+r.count {
				next = max(next, r.start+r.count)
			}
		}
		if next == start {
			return false
		}
		start = next
	}
	return true
}

// check refuses, in one line naming the id and the file, a mapping that
// newuidmap (newgidmap) would refuse: each entry must map the caller's own
// id alone or lie within the subordinate ranges it is granted.
func (s *subIDs) check(field string, m []specs.LinuxIDMapping) error {
	who := fmt.Sprintf("uid %d", s.uid)
	if s.user != "" {
		who = fmt.Sprintf("user %s (uid %d)", s.user, s.uid)
	}
	for _, e := range m {
		if e.Size == 0 {
			return errorf(ErrInvalidSpec, "%s: container %s %d: size must not be 0", field, s.kind, e.ContainerID)
		}
		if e.Size == 1 && e.HostID == s.id {
			continue // one's own id needs no grant
		}
		if len(s.ranges) == 0 {
			return errorf(ErrInvalidSpec, "%s: %s has no subordinate %ss in %s (needed to map host %s %d)",
				field, who, s.kind, s.file, s.kind, e.HostID)
		}
		if !s.covers(uint64(e.HostID), uint64(e.Size)) {
			granted := make([]string, len(s.ranges))
			for i, r := range s.ranges {
				granted[i] = r.String()
			}
			return errorf(ErrInvalidSpec, "%s: host %ss %s (container %ss %s) are outside the subordinate %ss %s grants %s: %s",
				field, s.kind, subIDRange{uint64(e.HostID), uint64(e.Size)}, s.kind, subIDRange{uint64(e.ContainerID), uint64(e.Size)},
				s.kind, s.file, who, strings.Join(granted, ", "))
		}
	}
	return nil
}
