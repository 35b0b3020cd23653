package convert

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestLookupUser(t *testing.T) {
	tests := []struct {
		spec     string
		uid, gid uint32
		groups   []uint32
		home     string
		err      error
	}{
		{"", 0, 0, []uint32{10}, "/root", nil},
		{"root", 0, 0, []uint32{10}, "/root", nil},
		{"alice", 1000, 1000, []uint32{10, 29, 44}, "/home/alice", nil},
		{"1000", 1000, 1000, []uint32{10, 29, 44}, "/home/alice", nil}, // uid without group: as Docker
		{"bob", 1001, 1001, []uint32{29}, "/home/bob", nil},
		{"alice:staff", 1000, 50, nil, "/home/alice", nil},
		{"alice:4000", 1000, 4000, nil, "/home/alice", nil},
		{"1000:staff", 1000, 50, nil, "/home/alice", nil},
		{"1000:1000", 1000, 1000, nil, "/home/alice", nil},
		{"4242", 4242, 0, nil, "", nil}, // numeric uid absent from passwd
		{"4242:4343", 4242, 4343, nil, "", nil},
		{"0004242", 4242, 0, nil, "", nil},
		{":audio", 0, 29, nil, "/root", nil},
		{"nohome", 1002, 1002, nil, "", nil},
		{"2147483647", 2147483647, 0, nil, "", nil},
		{"mallory", 0, 0, nil, "", ErrUnknownUser},
		{"alice:nogroup", 0, 0, nil, "", ErrUnknownGroup},
		{"4242:nogroup", 0, 0, nil, "", ErrUnknownGroup},
		{"broken", 0, 0, nil, "", ErrUnknownUser}, // its uid is not a number
		{"+nisuser", 0, 0, nil, "", ErrUnknownUser},
		{"2147483648", 0, 0, nil, "", ErrInvalidUser},
		{"1:99999999999999999999", 0, 0, nil, "", ErrInvalidUser},
		{"a:b:c", 0, 0, nil, "", ErrInvalidUser},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			u, err := LookupUser("testdata/rootfs", tt.spec)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if strings.Count(err.Error(), "convert:") != 1 || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q is not one clean line", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.User.UID != tt.uid || u.User.GID != tt.gid || !slices.Equal(u.User.AdditionalGids, tt.groups) || u.Home != tt.home {
				t.Errorf("got %+v home %q, want %d:%d %v home %q", u.User, u.Home, tt.uid, tt.gid, tt.groups, tt.home)
			}
		})
	}
}

func TestLookupUserErrorNamesUser(t *testing.T) {
	_, err := LookupUser("testdata/rootfs", "mallory:staff")
	if err == nil || !strings.Contains(err.Error(), `"mallory"`) {
		t.Errorf("err = %v, want it to name the user", err)
	}
	_, err = LookupUser("testdata/rootfs", "alice:nogroup")
	if err == nil || !strings.Contains(err.Error(), `"nogroup"`) {
		t.Errorf("err = %v, want it to name the group", err)
	}
}

// writeRootfs creates a root filesystem whose files are given by content
// ("->target" makes a symlink).
func writeRootfs(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "->"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestLookupUserStaysInRootfs: /etc/passwd and /etc/group of an image may
// be symlinks; they must resolve inside the root filesystem, never to the
// host's files.
func TestLookupUserStaysInRootfs(t *testing.T) {
	host, err := os.ReadFile("/etc/passwd")
	if err != nil || !strings.Contains(string(host), "\nbin:") && !strings.HasPrefix(string(host), "bin:") {
		t.Skip("host /etc/passwd has no user bin to probe with")
	}
	tests := []struct {
		name  string
		files map[string]string
		spec  string
		uid   uint32
		err   error
	}{
		{"absolute symlink", map[string]string{
			"etc/passwd":      "->/etc/passwd.real",
			"etc/passwd.real": "inside:x:77:77::/:/bin/sh\n",
		}, "inside", 77, nil},
		{"absolute symlink to host file", map[string]string{
			"etc/passwd":      "->/etc/passwd.real",
			"etc/passwd.real": "inside:x:77:77::/:/bin/sh\n",
		}, "bin", 0, ErrUnknownUser},
		{"dotdot symlink", map[string]string{
			"etc/passwd":      "->../../../../../../../etc/passwd.real",
			"etc/passwd.real": "inside:x:78:78::/:/bin/sh\n",
		}, "inside", 78, nil},
		{"dotdot symlink to host", map[string]string{
			"etc/passwd": "->../../../../../../../etc/passwd",
		}, "bin", 0, ErrDatabase}, // a loop inside the rootfs, not the host file
		{"symlinked etc", map[string]string{
			"etc":             "->/real-etc",
			"real-etc/passwd": "inside:x:79:79::/:/bin/sh\n",
			"real-etc/group":  "g:x:5:inside\n",
		}, "inside", 79, nil},
		{"dangling symlink", map[string]string{
			"etc/passwd": "->/nowhere",
		}, "bin", 0, ErrUnknownUser},
		{"directory", map[string]string{
			"etc/passwd/x": "",
		}, "bin", 0, ErrDatabase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeRootfs(t, tt.files)
			u, err := LookupUser(root, tt.spec)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.User.UID != tt.uid {
				t.Errorf("uid = %d, want %d", u.User.UID, tt.uid)
			}
		})
	}
}

func TestLookupUserRefusesFIFO(t *testing.T) {
	root := writeRootfs(t, map[string]string{"etc/group": "g:x:5:\n"})
	if err := syscall.Mkfifo(filepath.Join(root, "etc", "passwd"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := LookupUser(root, "someone")
	if !errors.Is(err, ErrDatabase) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err = %v, want a not-regular-file error", err)
	}
}

func TestLookupUserTooLarge(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A sparse file of NUL-filled lines under the line limit, so only
	// the size limit can reject it.
	f, err := os.Create(filepath.Join(root, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("u:x:1:1::/:/bin/sh\n"); err != nil {
		t.Fatal(err)
	}
	for off := int64(maxLine / 2); off <= maxDatabase+maxLine; off += maxLine / 2 {
		if _, err := f.WriteAt([]byte("\n"), off); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LookupUser(root, "u"); !errors.Is(err, ErrDatabase) {
		t.Fatalf("err = %v, want ErrDatabase", err)
	}
}

func TestParsePasswdLongLine(t *testing.T) {
	in := "a:x:1:1::/:/bin/sh\n" + strings.Repeat("x", maxLine+1) + "\n"
	if _, err := ParsePasswd(strings.NewReader(in)); !errors.Is(err, ErrDatabase) {
		t.Fatalf("err = %v, want ErrDatabase", err)
	}
}

func TestParseGroup(t *testing.T) {
	in := "root:x:0:\n# c\nwheel:x:10:root, alice,,\nbad:x:ten:root\n:x:3:\nshort:x\nlast:x:12\n"
	got, err := ParseGroup(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []GroupEntry{{Name: "root", GID: 0}, {Name: "wheel", GID: 10, Members: []string{"root", "alice"}}, {Name: "last", GID: 12}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].GID != want[i].GID || !slices.Equal(got[i].Members, want[i].Members) {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func FuzzParseUserSpec(f *testing.F) {
	for _, s := range []string{"", "root", "1000", "user:group", "1:2", "user:1", "1:group", ":g", "u:", "a:b:c", "\x00", "99999999999999999999"} {
		f.Add(s)
	}
	passwd, _ := ParsePasswd(strings.NewReader("root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n"))
	groups, _ := ParseGroup(strings.NewReader("root:x:0:\ng:x:5:u\n"))
	f.Fuzz(func(t *testing.T, s string) {
		user, group, err := ParseUserSpec(s)
		if err == nil && strings.Contains(user+group, ":") {
			t.Fatalf("%q: parts %q %q contain ':'", s, user, group)
		}
		u, err := ResolveUser(s, passwd, groups)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if u.User.UID > maxID || u.User.GID > maxID {
			t.Fatalf("%q: id out of range: %+v", s, u.User)
		}
	})
}

func FuzzParsePasswd(f *testing.F) {
	f.Add("root:x:0:0:root:/root:/bin/sh\n# c\n\n+nis\nbad:x:y:z\nu:x:1:2\n")
	f.Add("a:b:c:d:e:f:g:h:i\n:::::\n")
	f.Add("x:x:4294967295:0::/:\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := ParsePasswd(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Name == "" || e.UID > maxID || e.GID > maxID || strings.ContainsAny(e.Name, ":\n") {
				t.Fatalf("bad entry %+v", e)
			}
		}
		if len(entries) > strings.Count(in, "\n")+1 {
			t.Fatalf("%d entries from %d lines", len(entries), strings.Count(in, "\n")+1)
		}
	})
}

func FuzzParseGroup(f *testing.F) {
	f.Add("root:x:0:\nwheel:x:10:root,alice\naudio:x:29:a, b,,\n")
	f.Add("g:x:1\n-g:x:2:\nbad:x:-1:\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := ParseGroup(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Name == "" || e.GID > maxID {
				t.Fatalf("bad entry %+v", e)
			}
			for _, m := range e.Members {
				if m == "" || strings.ContainsAny(m, ",:\n") {
					t.Fatalf("bad member %q in %+v", m, e)
				}
			}
		}
	})
}
