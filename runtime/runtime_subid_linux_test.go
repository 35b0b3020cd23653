package runtime_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// subIDUserName is the unprivileged user the subordinate id tests run
// ocikit (and rootless podman) as. The tests create it, with a range in
// /etc/subuid and /etc/subgid, when it is missing.
const subIDUserName = "ocikit-rl-test"

// subIDCount is the size of the test user's subordinate ranges.
const subIDCount = 65536

type testUser struct {
	name           string
	uid, gid       uint32
	groups         []uint32
	home           string
	subUID, subGID uint32 // the first of its subIDCount subordinate ids
}

// requireSubIDUser returns the test user, creating it (useradd) and its
// subordinate ranges when missing; idempotent, and serialised with other
// test processes by a lock. It skips the test without root or useradd.
func requireSubIDUser(t *testing.T) *testUser {
	t.Helper()
	testutil.RequireRoot(t)
	useradd, err := exec.LookPath("useradd")
	if err != nil {
		t.Skip("useradd not installed (Debian's passwd package)")
	}
	lock, err := os.OpenFile("/run/lock/ocikit-rl-test.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := user.Lookup(subIDUserName); err != nil {
		if out, err := exec.Command(useradd, "--create-home", "--shell", "/bin/sh", "--user-group", subIDUserName).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v: %s", subIDUserName, err, out)
		}
	}
	u, err := user.Lookup(subIDUserName)
	if err != nil {
		t.Fatal(err)
	}
	tu := &testUser{name: u.Username, home: u.HomeDir, uid: atou(t, u.Uid), gid: atou(t, u.Gid)}
	gids, err := u.GroupIds()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gids {
		tu.groups = append(tu.groups, atou(t, g))
	}
	tu.subUID = ensureSubIDs(t, "/etc/subuid", subIDUserName)
	tu.subGID = ensureSubIDs(t, "/etc/subgid", subIDUserName)
	return tu
}

func atou(t *testing.T, s string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// ensureSubIDs returns the start of name's range of subIDCount ids in file
// (subuid(5)), adding one after every range granted so far when it has
// none (useradd adds one on its own where /etc/subuid exists).
func ensureSubIDs(t *testing.T, file, name string) uint32 {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	next := uint64(100000)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) != 3 {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		if f[0] == name && count >= subIDCount {
			return uint32(start)
		}
		next = max(next, start+count)
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		data = append(data, '\n')
	}
	data = fmt.Appendf(data, "%s:%d:%d\n", name, next, subIDCount)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return uint32(next)
}

// subIDMaps maps container id 0 to the user's own id and 1 … 65536 to its
// subordinate range, as rootless podman does.
func subIDMaps(own, sub uint32) []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: 0, HostID: own, Size: 1}, {ContainerID: 1, HostID: sub, Size: subIDCount}}
}

// multiOwnerRootfs is a busybox root filesystem that the user's
// containers see owned by their root, with /f1000 and /f2000 (modes 0600
// and 0640, holding their owner's id) owned by the subordinate ids
// container uids and gids 1000 and 2000 map to.
func multiOwnerRootfs(t *testing.T, u *testUser) string {
	t.Helper()
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	for d := filepath.Dir(rootfs); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.Walk(rootfs, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(u.uid), int(u.gid))
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		id   uint32
		mode os.FileMode
	}{{1000, 0o600}, {2000, 0o640}} {
		p := filepath.Join(rootfs, "f"+strconv.Itoa(int(f.id)))
		if err := os.WriteFile(p, []byte(strconv.Itoa(int(f.id))+"\n"), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, int(u.subUID+f.id-1), int(u.subGID+f.id-1)); err != nil {
			t.Fatal(err)
		}
	}
	return rootfs
}

// TestRootlessSubIDs: an unprivileged user's container maps its
// subordinate ranges (/etc/subuid, /etc/subgid) through newuidmap and
// newgidmap, as runc and crun: files of several owners show their owners
// inside, setgroups(2) is allowed (newgidmap's choice for a subordinate
// range) so additionalGids apply, and exec switches between the mapped
// users. What newuidmap would refuse is one line before anything exists;
// a refusal of newuidmap itself leaves nothing behind.
func TestRootlessSubIDs(t *testing.T) {
	u := requireSubIDUser(t)
	testutil.RequireTool(t, "newuidmap")
	e := newRootlessEnvAs(t, u.uid, u.gid, u.groups)
	rootfs := multiOwnerRootfs(t, u)
	bundle := func(args []string, mutate func(*specs.Spec)) string {
		return e.bundle(args, func(s *specs.Spec) {
			s.Root.Path = rootfs
			s.Linux.UIDMappings = subIDMaps(u.uid, u.subUID)
			s.Linux.GIDMappings = subIDMaps(u.gid, u.subGID)
			if mutate != nil {
				mutate(s)
			}
		})
	}

	out := e.must("run", "--bundle", bundle([]string{"sh", "-c", "stat -c '%n %u:%g' /bin /f1000 /f2000; cat /proc/self/setgroups"}, nil), e.id("owners"))
	if want := "/bin 0:0\n/f1000 1000:1000\n/f2000 2000:2000\nallow\n"; out != want {
		t.Errorf("owners inside %q, want %q", out, want)
	}
	out = e.must("run", "--bundle", bundle([]string{"sh", "-c", "id; cat /f1000 /f2000"}, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{2000}}
	}), e.id("user"))
	if want := "uid=1000(user) gid=1000(user) groups=2000\n1000\n2000\n"; out != want {
		t.Errorf("as uid 1000 with group 2000: %q, want %q", out, want)
	}

	// Subordinate uids, the caller's gid alone: newuidmap for uid_map,
	// gid_map written directly after setgroups "deny".
	out = e.must("run", "--bundle", bundle([]string{"sh", "-c", "stat -c '%u:%g' /f1000; cat /proc/self/setgroups /proc/self/gid_map"}, func(s *specs.Spec) {
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: u.gid, Size: 1}}
	}), e.id("gid-alone"))
	if want := fmt.Sprintf("1000:65534\ndeny\n%10d %10d %10d\n", 0, u.gid, 1); out != want {
		t.Errorf("subordinate uids, own gid alone: %q, want %q", out, want)
	}

	id := e.id("exec")
	e.must("run", "--detach", "--bundle", bundle([]string{"sleep", "100"}, nil), id)
	for _, c := range []struct {
		user string
		cmd  string
		want string
	}{
		{"1000:1000", "id -u; cat /f1000; cat /f2000 2>/dev/null || echo denied", "1000\n1000\ndenied\n"},
		{"2000:2000", "id -u; cat /f2000; cat /f1000 2>/dev/null || echo denied", "2000\n2000\ndenied\n"},
	} {
		if out := e.must("exec", "-u", c.user, id, "sh", "-c", c.cmd); out != c.want {
			t.Errorf("exec -u %s: %q, want %q", c.user, out, c.want)
		}
	}
	pid := e.state(id).Pid
	e.must("kill", id, "KILL")
	waitGone(t, pid)
	e.must("delete", id)

	// `spec --rootless` stays the single-id configuration.
	specDir := t.TempDir()
	if err := os.Chown(specDir, int(u.uid), int(u.gid)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.bin, "spec", "--rootless")
	cmd.Dir = specDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("spec --rootless: %v: %s", err, out)
	}
	var s specs.Spec
	data, _ := os.ReadFile(filepath.Join(specDir, "config.json"))
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: u.uid, Size: 1}}; fmt.Sprint(s.Linux.UIDMappings) != fmt.Sprint(want) {
		t.Errorf("spec --rootless uidMappings %v, want %v", s.Linux.UIDMappings, want)
	}

	outside := subIDMaps(u.uid, u.subUID+subIDCount)
	overlap := []specs.LinuxIDMapping{{ContainerID: 0, HostID: u.uid, Size: 1}, {ContainerID: 0, HostID: u.subUID, Size: 1}}
	nobodyEnv := newRootlessEnv(t)
	noPath := *e
	noPath.environ = []string{"PATH=/nonexistent"}
	for _, c := range []struct {
		name string
		e    *rootlessEnv
		uids []specs.LinuxIDMapping
		gids []specs.LinuxIDMapping
		want string
	}{
		{"uid outside", e, outside, nil, fmt.Sprintf("uidMappings: host uids %d-%d (container uids 1-65536) are outside the subordinate uids /etc/subuid grants user %s (uid %d): %d-%d",
			u.subUID+subIDCount, u.subUID+2*subIDCount-1, u.name, u.uid, u.subUID, u.subUID+subIDCount-1)},
		{"gid outside", e, nil, subIDMaps(u.gid, u.subGID+1), "are outside the subordinate gids /etc/subgid grants user " + u.name},
		{"no range", nobodyEnv, subIDMaps(nobody, u.subUID), subIDMaps(nobody, u.subGID), fmt.Sprintf("uidMappings: user nobody (uid %d) has no subordinate uids in /etc/subuid (needed to map host uid %d)", nobody, u.subUID)},
		{"no newuidmap", &noPath, nil, nil, fmt.Sprintf("uidMappings: mapping more than uid %d without root needs newuidmap (Debian's uidmap package), not found in $PATH", u.uid)},
		// Within the grants, but the kernel refuses overlapping ranges:
		// newuidmap fails with the init waiting.
		{"newuidmap fails", e, overlap, nil, "uidMappings: /usr/bin/newuidmap: exit status 1: newuidmap: write to uid_map failed: invalid argument"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ce := *c.e
			ce.env = c.e.sub(t)
			id := ce.id("subid-err")
			b := bundle([]string{"true"}, func(s *specs.Spec) {
				if c.uids != nil {
					s.Linux.UIDMappings = c.uids
				}
				if c.gids != nil {
					s.Linux.GIDMappings = c.gids
				}
			})
			_, stderr, err := ce.run("run", "--bundle", b, id)
			msg := strings.TrimSpace(stderr)
			if err == nil || strings.Contains(msg, "\n") || !strings.Contains(strings.ToLower(msg), strings.ToLower(c.want)) {
				t.Errorf("run: %v: stderr %q, want one line containing %q", err, msg, c.want)
			}
			if ents, _ := os.ReadDir(ce.root); len(ents) != 0 {
				t.Errorf("state root holds %v after the failed create", ents)
			}
			if cgroupExists(id) {
				t.Errorf("cgroup of %s left behind", id)
			}
			// Only the test user's (others may run tests as nobody now).
			if p := ocikitProcesses(c.e.uid); c.e.uid == u.uid && len(p) > 0 {
				t.Errorf("processes of ocikit left behind: %v", p)
			}
		})
	}
}

// ocikitProcesses lists the live processes of uid running ocikit (its
// init is named ocikit:init); zombies are the reaper's business.
func ocikitProcesses(uid uint32) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || !strings.HasPrefix(string(comm), "ocikit") {
			continue
		}
		// The real uid: /proc/<pid> of a non-dumpable init is root's.
		status, _ := os.ReadFile(filepath.Join(d, "status"))
		live, mine := true, false
		for _, l := range strings.Split(string(status), "\n") {
			f := strings.Fields(l)
			switch {
			case len(f) > 1 && f[0] == "State:":
				live = f[1] != "Z"
			case len(f) > 1 && f[0] == "Uid:":
				mine = f[1] == strconv.Itoa(int(uid))
			}
		}
		if live && mine {
			out = append(out, filepath.Base(d)+" "+strings.TrimSpace(string(comm)))
		}
	}
	return out
}

// TestPodmanRootlessSubIDs: rootless podman, as the test user with its
// subordinate ranges, runs ocikit (--runtime) in its user namespace, where
// ocikit is root of a namespace other than the host's and keeps its state
// under $XDG_RUNTIME_DIR/ocikit as runc does under …/runc: an image whose
// files belong to root, 1000 and 2000 shows those owners, and `podman exec
// -u` switches between them.
func TestPodmanRootlessSubIDs(t *testing.T) {
	u := requireSubIDUser(t)
	podman := testutil.RequireTool(t, "podman")
	testutil.RequireTool(t, "newuidmap")
	e := newRootlessEnvAs(t, u.uid, u.gid, u.groups)

	// The image: a layout built with ocikit from a rootfs with files of
	// three owners.
	// Lower case: podman names an image pulled from oci:DIR after DIR.
	work, err := os.MkdirTemp("", "ocikit-rl-podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(work, "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	for _, id := range []int{0, 1000, 2000} {
		p := filepath.Join(rootfs, "f"+strconv.Itoa(id))
		if err := os.WriteFile(p, []byte(strconv.Itoa(id)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, id, id); err != nil {
			t.Fatal(err)
		}
	}
	layout := filepath.Join(work, "layout")
	for _, args := range [][]string{
		{"image", "new", layout + ":multi"},
		{"image", "add-layer", layout + ":multi", rootfs},
		{"image", "config", layout + ":multi", "--env", "PATH=/bin", "--cmd", "sleep", "--cmd", "1000"},
	} {
		if out, err := exec.Command(e.bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("ocikit %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := exec.Command("chmod", "-R", "a+rX", layout).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v: %s", err, out)
	}

	// Podman's own directories: runtime files in a private
	// XDG_RUNTIME_DIR, storage under the user's home.
	xdg := filepath.Join(work, "xdg")
	storage := filepath.Join(u.home, fmt.Sprintf(".ocikit-test-%d", os.Getpid()))
	for _, d := range []string{xdg, storage} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, int(u.uid), int(u.gid)); err != nil {
			t.Fatal(err)
		}
	}
	pm := func(args ...string) (string, error) {
		base := []string{"--root", filepath.Join(storage, "storage"), "--runroot", filepath.Join(xdg, "run"), "--storage-driver", "vfs",
			"--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", e.bin}
		cmd := exec.Command(podman, append(base, args...)...)
		cmd.Dir = work
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: u.groups}}
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + u.home, "USER=" + u.name, "XDG_RUNTIME_DIR=" + xdg}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		pm("rm", "-af", "-t", "0")
		pm("rmi", "-af")
		// Rootless podman leaves a pause process holding its user
		// namespace: ours, started for this test.
		if data, err := os.ReadFile(filepath.Join(xdg, "libpod", "tmp", "pause.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		os.RemoveAll(storage)
	})
	image := lastLine(pmMust(t, pm, "pull", "-q", "oci:"+layout+":multi")) // its id
	// No slirp4netns here; this host refuses podman's default rlimits.
	out, err := pm("run", "-d", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", image)
	if err != nil {
		t.Fatalf("podman run -d: %v: %s", err, out)
	}
	id := lastLine(out)
	if out := pmMust(t, pm, "exec", id, "sh", "-c", "stat -c '%n %u:%g' /f0 /f1000 /f2000; cat /proc/self/uid_map"); out != fmt.Sprintf(
		"/f0 0:0\n/f1000 1000:1000\n/f2000 2000:2000\n%10d %10d %10d\n%10d %10d %10d\n", 0, u.uid, 1, 1, u.subUID, subIDCount) {
		t.Errorf("podman exec: owners and uid map %q", out)
	}
	for _, c := range []struct{ user, want string }{
		{"1000", "1000\n1000\ndenied\n"},
		{"2000", "2000\n2000\ndenied\n"},
	} {
		other := map[string]string{"1000": "2000", "2000": "1000"}[c.user]
		out := pmMust(t, pm, "exec", "-u", c.user, id, "sh", "-c", "id -u; cat /f"+c.user+"; cat /f"+other+" 2>/dev/null || echo denied")
		if out != c.want {
			t.Errorf("podman exec -u %s: %q, want %q", c.user, out, c.want)
		}
	}
	if out, err := pm("rm", "-f", "-t", "0", id); err != nil {
		t.Errorf("podman rm -f: %v: %s", err, out)
	}
}

func pmMust(t *testing.T, pm func(...string) (string, error), args ...string) string {
	t.Helper()
	out, err := pm(args...)
	if err != nil {
		t.Fatalf("podman %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}
