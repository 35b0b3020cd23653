package convert

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ocikit/ocikit/errdefs"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var (
	// ErrUnknownUser: a user name in Config.User has no /etc/passwd entry
	// (conversion.md: "If Config.User does not correspond to a user in the
	// container's context, the converter MUST return an error").
	ErrUnknownUser = errdefs.New(errdefs.ErrNotFound, "convert: unknown user")
	// ErrUnknownGroup: a group name in Config.User has no /etc/group entry.
	ErrUnknownGroup = errdefs.New(errdefs.ErrNotFound, "convert: unknown group")
	// ErrInvalidUser: Config.User is not one of user, uid, user:group,
	// uid:gid, user:gid or uid:group.
	ErrInvalidUser = errdefs.New(errdefs.ErrInvalid, "convert: invalid user")
	// ErrDatabase: /etc/passwd or /etc/group cannot be parsed.
	ErrDatabase = errdefs.New(errdefs.ErrInvalid, "convert: invalid user database")
)

// maxID is the largest uid or gid accepted. uid_t is 32 bits but the
// kernel reserves -1 and Docker, runc and glibc reject anything past
// 2^31-1, so ids are kept in that range.
const maxID = 1<<31 - 1

// maxLine bounds one line of /etc/passwd or /etc/group; longer lines make
// the file invalid instead of growing memory without bound.
const maxLine = 1 << 20

// PasswdEntry is one line of /etc/passwd (passwd(5)).
type PasswdEntry struct {
	Name  string
	UID   uint32
	GID   uint32
	Home  string
	Shell string
}

// GroupEntry is one line of /etc/group (group(5)).
type GroupEntry struct {
	Name    string
	GID     uint32
	Members []string
}

// ParseUserSpec splits Config.User ("user", "uid", "user:group",
// "uid:gid", "user:gid" or "uid:group", config.md) into its user and group
// parts. An empty user means the default user (root); an empty group means
// none was given.
func ParseUserSpec(s string) (user, group string, err error) {
	user, group, _ = strings.Cut(s, ":")
	for _, part := range []string{user, group} {
		if strings.ContainsAny(part, ":\n\x00") {
			return "", "", fmt.Errorf("%w %q: want user[:group]", ErrInvalidUser, s)
		}
	}
	return user, group, nil
}

// parseID parses a numeric uid or gid. numeric is false when s is not a
// number (then it is a name); valid is false for a number out of range.
func parseID(s string) (id uint32, numeric, valid bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxID {
		return 0, true, false
	}
	return uint32(n), true, true
}

// ParsePasswd reads passwd(5) lines. Blank lines, comments and NIS
// compat lines ("+..." or "-...") are skipped, as are lines whose uid or
// gid is not a valid number: glibc ignores those too, and one broken line
// should not make every other user unknown.
func ParsePasswd(r io.Reader) ([]PasswdEntry, error) {
	var out []PasswdEntry
	err := scanLines(r, "/etc/passwd", func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, _, ok1 := parseID(f[2])
		gid, _, ok2 := parseID(f[3])
		if !ok1 || !ok2 {
			return
		}
		e := PasswdEntry{Name: f[0], UID: uid, GID: gid}
		if len(f) > 5 {
			e.Home = f[5]
		}
		if len(f) > 6 {
			e.Shell = f[6]
		}
		out = append(out, e)
	})
	return out, err
}

// ParseGroup reads group(5) lines with the same leniency as ParsePasswd.
func ParseGroup(r io.Reader) ([]GroupEntry, error) {
	var out []GroupEntry
	err := scanLines(r, "/etc/group", func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, _, ok := parseID(f[2])
		if !ok {
			return
		}
		e := GroupEntry{Name: f[0], GID: gid}
		if len(f) > 3 {
			for _, m := range strings.Split(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					e.Members = append(e.Members, m)
				}
			}
		}
		out = append(out, e)
	})
	return out, err
}

func scanLines(r io.Reader, name string, fn func([]string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if f[0] == "" {
			continue
		}
		fn(f)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrDatabase, name, err)
	}
	return nil
}

// ExecUser is the resolved identity of the container process.
type ExecUser struct {
	// User holds uid, gid and additionalGids for process.user.
	User specs.User
	// Home is the home directory from /etc/passwd; empty when the user
	// has no entry.
	Home string
}

// ResolveUser resolves Config.User against the container's passwd and
// group entries (either may be nil when the file does not exist).
//
// Following conversion.md "Config.User": numeric values are copied
// verbatim (a uid without a passwd entry is allowed, with gid 0 unless a
// group is given); names MUST resolve or an error naming them is
// returned. When no group is given, the primary gid comes from the passwd
// entry and process.user.additionalGids lists the groups naming the user
// as a member. config.md ("If group/gid is not specified, the default
// group and supplementary groups of the given user/uid ... are applied")
// and Docker do this for a numeric uid too, although conversion.md says a
// converter SHOULD NOT; we follow config.md and Docker so an image behaves
// the same under `docker run` and a converted bundle. When a group is
// given, supplementary groups are ignored. An empty spec means root.
func ResolveUser(spec string, passwd []PasswdEntry, groups []GroupEntry) (ExecUser, error) {
	userArg, groupArg, err := ParseUserSpec(spec)
	if err != nil {
		return ExecUser{}, err
	}
	var res ExecUser
	var pw *PasswdEntry
	if userArg == "" {
		userArg = "0"
	}
	uid, numeric, valid := parseID(userArg)
	if numeric && !valid {
		return ExecUser{}, fmt.Errorf("%w %q: uid out of range 0-%d", ErrInvalidUser, spec, maxID)
	}
	for i := range passwd {
		if (numeric && passwd[i].UID == uid) || (!numeric && passwd[i].Name == userArg) {
			pw = &passwd[i]
			break
		}
	}
	switch {
	case pw != nil:
		res.User.UID, res.User.GID, res.Home = pw.UID, pw.GID, pw.Home
	case numeric:
		res.User.UID = uid
	case passwd == nil:
		return ExecUser{}, fmt.Errorf("%w %q: rootfs has no /etc/passwd", ErrUnknownUser, userArg)
	default:
		return ExecUser{}, fmt.Errorf("%w %q: not in /etc/passwd", ErrUnknownUser, userArg)
	}

	if groupArg != "" {
		gid, numeric, valid := parseID(groupArg)
		if numeric && !valid {
			return ExecUser{}, fmt.Errorf("%w %q: gid out of range 0-%d", ErrInvalidUser, spec, maxID)
		}
		if !numeric {
			found := false
			for _, g := range groups {
				if g.Name == groupArg {
					gid, found = g.GID, true
					break
				}
			}
			if !found {
				where := "not in /etc/group"
				if groups == nil {
					where = "rootfs has no /etc/group"
				}
				return ExecUser{}, fmt.Errorf("%w %q: %s", ErrUnknownGroup, groupArg, where)
			}
		}
		res.User.GID = gid
		return res, nil
	}

	if pw == nil {
		return res, nil
	}
	seen := map[uint32]bool{}
	for _, g := range groups {
		for _, m := range g.Members {
			if m == pw.Name && !seen[g.GID] {
				seen[g.GID] = true
				res.User.AdditionalGids = append(res.User.AdditionalGids, g.GID)
				break
			}
		}
	}
	return res, nil
}
