package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	"golang.org/x/sys/unix"
)

// result is what one runtime command did.
type result struct {
	code           int
	stdout, stderr string
}

// sideBySide runs the same command lines under runc and ocikit, each with a
// state root of its own.
type sideBySide struct {
	t                    *testing.T
	runc, ocikit         string
	runcRoot, ocikitRoot string
}

func newSideBySide(t *testing.T) *sideBySide {
	t.Helper()
	return &sideBySide{
		t:          t,
		runc:       testutil.RequireTool(t, "runc"),
		ocikit:     testutil.Binary(t),
		runcRoot:   t.TempDir(),
		ocikitRoot: t.TempDir(),
	}
}

func (s *sideBySide) run(bin, root string, args ...string) result {
	s.t.Helper()
	cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
	// Files, not pipes: a created container keeps its stdio open.
	out, err := os.CreateTemp(s.t.TempDir(), "out")
	if err != nil {
		s.t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.CreateTemp(s.t.TempDir(), "err")
	if err != nil {
		s.t.Fatal(err)
	}
	defer errf.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, out, errf
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("%s %v: %v", bin, args, err)
	}
	data, _ := os.ReadFile(out.Name())
	stderr, _ := os.ReadFile(errf.Name())
	return result{code: code, stdout: string(data), stderr: string(stderr)}
}

// both runs args (ID replaced by each runtime's container id) under both.
func (s *sideBySide) both(args []string, runcID, ocikitID string) (r, o result) {
	s.t.Helper()
	subst := func(id string) []string {
		a := make([]string, len(args))
		for i, x := range args {
			a[i] = strings.ReplaceAll(x, "ID", id)
		}
		return a
	}
	return s.run(s.runc, s.runcRoot, subst(runcID)...), s.run(s.ocikit, s.ocikitRoot, subst(ocikitID)...)
}

// TestRuncCompatNoContainer compares what needs no container: exit
// statuses of usage errors and lookups, the empty list formats and the
// shape of --version.
func TestRuncCompatNoContainer(t *testing.T) {
	s := newSideBySide(t)
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, r, o result)
	}{
		{"unknown command", []string{"nosuchcmd"}, sameCode},
		{"help of an unknown command", []string{"help", "nosuchcmd"}, sameCode},
		{"help alias", []string{"h"}, sameCode},
		{"help of a command", []string{"help", "list"}, sameCode},
		{"command -h", []string{"list", "-h"}, sameCode},
		{"--help", []string{"--help"}, sameCode},
		{"unknown flag", []string{"list", "--nosuchflag"}, sameCode},
		{"unknown global flag", []string{"--nosuchflag", "list"}, sameCode},
		{"--criu accepted", []string{"--criu", "/usr/sbin/criu", "list", "-q"}, sameOutput},
		{"--systemd-cgroup accepted", []string{"--systemd-cgroup", "list", "-q"}, sameOutput},
		{"--rootless accepted", []string{"--rootless", "false", "list", "-q"}, sameOutput},
		{"--debug accepted", []string{"--debug", "list", "-q"}, sameOutput},
		{"bad --log-format", []string{"--log-format", "xml", "list"}, sameCode},
		{"state of nothing", []string{"state", "nosuch"}, sameCode},
		{"delete of nothing", []string{"delete", "nosuch"}, sameCode},
		{"delete --force of nothing", []string{"delete", "--force", "nosuch"}, sameCode},
		{"kill of nothing", []string{"kill", "nosuch", "0"}, sameCode},
		{"kill without id", []string{"kill"}, sameCode},
		{"kill with too many arguments", []string{"kill", "a", "KILL", "b"}, sameCode},
		{"exec of nothing", []string{"exec", "nosuch", "true"}, sameCode},
		{"invalid id", []string{"state", "../x"}, sameCode},
		{"empty list table", []string{"list"}, sameOutput},
		{"empty list json", []string{"list", "--format", "json"}, sameOutput},
		{"empty list -q", []string{"list", "-q"}, sameOutput},
		{"--version", []string{"--version"}, sameVersionShape},
		{"-v", []string{"-v"}, sameVersionShape},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, o := s.both(tc.args, "", "")
			tc.check(t, r, o)
		})
	}
}

func sameCode(t *testing.T, r, o result) {
	t.Helper()
	if r.code != o.code {
		t.Errorf("exit status: runc %d, ocikit %d (runc: %q; ocikit: %q)", r.code, o.code, r.stderr, o.stderr)
	}
}

func sameOutput(t *testing.T, r, o result) {
	t.Helper()
	sameCode(t, r, o)
	if r.stdout != o.stdout {
		t.Errorf("output:\nrunc   %q\nocikit %q", r.stdout, o.stdout)
	}
}

// sameVersionShape: "NAME version X" first, then runc's "key: value"
// lines in runc's order (callers parse the first line and "spec:").
func sameVersionShape(t *testing.T, r, o result) {
	t.Helper()
	sameCode(t, r, o)
	first := regexp.MustCompile(`^\S+ version \S+$`)
	rl := strings.Split(strings.TrimSpace(r.stdout), "\n")
	ol := strings.Split(strings.TrimSpace(o.stdout), "\n")
	if !first.MatchString(rl[0]) || !first.MatchString(ol[0]) {
		t.Fatalf("first lines: runc %q, ocikit %q", rl[0], ol[0])
	}
	keys := func(lines []string) []string {
		var k []string
		for _, l := range lines[1:] {
			name, _, _ := strings.Cut(l, ": ")
			k = append(k, name)
		}
		return k
	}
	rk, ok := keys(rl), keys(ol)
	// runc's keys, in order, are a prefix of ocikit's (ocikit adds
	// image-spec last). A build without a commit lacks that line.
	rk = deleteKey(rk, "commit")
	ok = deleteKey(ok, "commit")
	if len(ok) < len(rk) || strings.Join(ok[:len(rk)], ",") != strings.Join(rk, ",") {
		t.Errorf("version keys: runc %v, ocikit %v", rk, ok)
	}
	if !regexp.MustCompile(`(?m)^spec: \d+\.\d+\.\d+`).MatchString(o.stdout) {
		t.Errorf("ocikit --version has no \"spec: X.Y.Z\" line: %q", o.stdout)
	}
}

func deleteKey(keys []string, k string) []string {
	var out []string
	for _, x := range keys {
		if x != k {
			out = append(out, x)
		}
	}
	return out
}

// TestRuncCompatLifecycle takes a container through create, exec, start,
// kill and delete under both runtimes from the same bundle and compares
// exit statuses, the state and list formats (field names and order, the
// table's header and owner), and the errors callers match.
func TestRuncCompatLifecycle(t *testing.T) {
	testutil.RequireRoot(t)
	s := newSideBySide(t)
	bundle := compatBundle(t, s.runc)
	runcID := fmt.Sprintf("cli-cmp-runc-%d", os.Getpid())
	ocikitID := fmt.Sprintf("cli-cmp-ocikit-%d", os.Getpid())
	t.Cleanup(func() {
		s.run(s.runc, s.runcRoot, "delete", "--force", runcID)
		s.run(s.ocikit, s.ocikitRoot, "delete", "--force", ocikitID)
	})
	var runcPid, ocikitPid int
	steps := []struct {
		name  string
		args  []string
		check func(t *testing.T, r, o result)
	}{
		{"create", []string{"create", "--bundle", bundle, "ID"}, sameCode},
		{"state created", []string{"state", "ID"}, sameState("created")},
		{"list json", []string{"list", "--format", "json"}, sameListJSON},
		{"list table", []string{"list"}, sameListTable},
		{"kill 0 created", []string{"kill", "ID", "0"}, sameCode},
		{"exec in created", []string{"exec", "ID", "sh", "-c", "exit 5"}, sameCode},
		{"still created", []string{"state", "ID"}, sameState("created")},
		{"exec no such program", []string{"exec", "ID", "no-such-program"}, sameCode},
		{"exec bad pid file", []string{"exec", "--pid-file", "/nonexistent/dir/pid", "ID", "true"}, sameCode},
		{"exec without command", []string{"exec", "ID"}, sameCode},
		{"start", []string{"start", "ID"}, sameCode},
		{"start again", []string{"start", "ID"}, sameCode},
		{"state running", []string{"state", "ID"}, func(t *testing.T, r, o result) {
			sameState("running")(t, r, o)
			runcPid, ocikitPid = statePid(t, r), statePid(t, o)
		}},
		{"kill 0 running", []string{"kill", "ID", "0"}, sameCode},
		{"events --stats", []string{"events", "--stats", "ID"}, sameEventKeys},
		{"ps json", []string{"ps", "--format", "json", "ID"}, samePsJSON},
		{"ps table header", []string{"ps", "ID"}, func(t *testing.T, r, o result) {
			sameCode(t, r, o)
			if rh, oh := firstLine(r.stdout), firstLine(o.stdout); rh != oh {
				t.Errorf("ps header: runc %q, ocikit %q", rh, oh)
			}
		}},
		{"delete running", []string{"delete", "ID"}, sameCode},
		{"kill", []string{"kill", "ID", "KILL"}, func(t *testing.T, r, o result) {
			sameCode(t, r, o)
			waitExit(t, runcPid)
			waitExit(t, ocikitPid)
		}},
		{"state stopped", []string{"state", "ID"}, sameState("stopped")},
		{"list json stopped", []string{"list", "--format", "json"}, sameListJSON},
		{"kill 0 stopped", []string{"kill", "ID", "0"}, sameKillError},
		{"kill stopped", []string{"kill", "ID"}, sameKillError},
		{"kill --all stopped", []string{"kill", "--all", "ID", "KILL"}, sameCode},
		{"exec in stopped", []string{"exec", "ID", "true"}, sameCode},
		{"start stopped", []string{"start", "ID"}, sameCode},
		{"delete", []string{"delete", "ID"}, sameCode},
		{"state deleted", []string{"state", "ID"}, sameCode},
	}
	for _, st := range steps {
		r, o := s.both(st.args, runcID, ocikitID)
		t.Run(st.name, func(t *testing.T) { st.check(t, r, o) })
	}
}

// compatBundle writes a busybox bundle with the configuration `runc spec`
// writes, without a terminal, running sleep.
func compatBundle(t *testing.T, runc string) string {
	t.Helper()
	dir := t.TempDir()
	testutil.BusyboxRootfs(t, filepath.Join(dir, "rootfs"))
	cmd := exec.Command(runc, "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	var spec map[string]any
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err == nil {
		err = json.Unmarshal(data, &spec)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := spec["process"].(map[string]any)
	p["terminal"] = false
	p["args"] = []string{"sleep", "1000"}
	// runc 1.1's spec asks for ambient capabilities that are not
	// inheritable, which the kernel refuses (runc only warns): leave
	// that difference to the tests of capabilities.
	if c, ok := p["capabilities"].(map[string]any); ok {
		delete(c, "ambient")
	}
	if data, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// objectKeys returns the keys of a JSON object in their order.
func objectKeys(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %q", data)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func sameState(status string) func(t *testing.T, r, o result) {
	return func(t *testing.T, r, o result) {
		t.Helper()
		sameCode(t, r, o)
		rk, ok := objectKeys(t, []byte(r.stdout)), objectKeys(t, []byte(o.stdout))
		if strings.Join(rk, ",") != strings.Join(ok, ",") {
			t.Errorf("state fields: runc %v, ocikit %v", rk, ok)
		}
		var rs, os map[string]any
		json.Unmarshal([]byte(r.stdout), &rs)
		json.Unmarshal([]byte(o.stdout), &os)
		for _, k := range []string{"status", "owner", "bundle", "rootfs"} {
			if rs[k] != os[k] {
				t.Errorf("state %s: runc %v, ocikit %v", k, rs[k], os[k])
			}
		}
		if os["status"] != status {
			t.Errorf("ocikit status %v, want %s", os["status"], status)
		}
		if status == "stopped" && (rs["pid"] != 0.0 || os["pid"] != 0.0) {
			t.Errorf("stopped pid: runc %v, ocikit %v, want 0", rs["pid"], os["pid"])
		}
	}
}

func statePid(t *testing.T, r result) int {
	var st struct{ Pid int }
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	return st.Pid
}

func sameListJSON(t *testing.T, r, o result) {
	t.Helper()
	sameCode(t, r, o)
	var rl, ol []json.RawMessage
	if json.Unmarshal([]byte(r.stdout), &rl) != nil || json.Unmarshal([]byte(o.stdout), &ol) != nil || len(rl) != 1 || len(ol) != 1 {
		t.Fatalf("list json: runc %q, ocikit %q", r.stdout, o.stdout)
	}
	rk, ok := objectKeys(t, rl[0]), objectKeys(t, ol[0])
	if strings.Join(rk, ",") != strings.Join(ok, ",") {
		t.Errorf("list fields: runc %v, ocikit %v", rk, ok)
	}
	var rs, os struct{ Status, Owner string }
	json.Unmarshal(rl[0], &rs)
	json.Unmarshal(ol[0], &os)
	if rs != os {
		t.Errorf("list status, owner: runc %+v, ocikit %+v", rs, os)
	}
}

func sameListTable(t *testing.T, r, o result) {
	t.Helper()
	sameCode(t, r, o)
	rl := strings.Split(strings.TrimSpace(r.stdout), "\n")
	ol := strings.Split(strings.TrimSpace(o.stdout), "\n")
	if len(rl) != 2 || len(ol) != 2 {
		t.Fatalf("list: runc %q, ocikit %q", r.stdout, o.stdout)
	}
	if strings.Join(strings.Fields(rl[0]), " ") != strings.Join(strings.Fields(ol[0]), " ") {
		t.Errorf("header: runc %q, ocikit %q", rl[0], ol[0])
	}
	rf, of := strings.Fields(rl[1]), strings.Fields(ol[1])
	if len(rf) != len(of) || rf[2] != of[2] || rf[len(rf)-1] != of[len(of)-1] {
		t.Errorf("row: runc %q, ocikit %q (status and owner must match)", rl[1], ol[1])
	}
}

func samePsJSON(t *testing.T, r, o result) {
	t.Helper()
	sameCode(t, r, o)
	var rp, op []int
	if json.Unmarshal([]byte(r.stdout), &rp) != nil || json.Unmarshal([]byte(o.stdout), &op) != nil || len(rp) != len(op) || len(op) == 0 {
		t.Errorf("ps json: runc %q, ocikit %q", r.stdout, o.stdout)
	}
}

// sameKillError: both fail, with the words containerd's shim matches.
func sameKillError(t *testing.T, r, o result) {
	t.Helper()
	sameCode(t, r, o)
	for name, res := range map[string]result{"runc": r, "ocikit": o} {
		if !strings.Contains(res.stderr, "container not running") {
			t.Errorf("%s: %q lacks \"container not running\"", name, res.stderr)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.Join(strings.Fields(l), " ")
}

// waitExit waits (through a pidfd) until pid has exited.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ESRCH {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return
		}
	}
}

// sameEventKeys: events --stats has runc's type, id and the same sections
// of data, with the same fields in cpu.usage and memory.
func sameEventKeys(t *testing.T, r, o result) {
	t.Helper()
	sameCode(t, r, o)
	rk, ok := objectKeys(t, []byte(r.stdout)), objectKeys(t, []byte(o.stdout))
	if strings.Join(rk, ",") != strings.Join(ok, ",") {
		t.Errorf("event fields: runc %v, ocikit %v", rk, ok)
	}
	var re, oe struct {
		Type string
		Data struct {
			CPU struct {
				Usage json.RawMessage
			}
			Memory json.RawMessage
		}
	}
	json.Unmarshal([]byte(r.stdout), &re)
	json.Unmarshal([]byte(o.stdout), &oe)
	if re.Type != oe.Type {
		t.Errorf("type: runc %q, ocikit %q", re.Type, oe.Type)
	}
	pairs := []struct {
		name string
		r, o []byte
	}{
		{"data", dataOf(t, r.stdout), dataOf(t, o.stdout)},
		{"cpu.usage", re.Data.CPU.Usage, oe.Data.CPU.Usage},
		{"memory", re.Data.Memory, oe.Data.Memory},
	}
	for _, p := range pairs {
		rk, ok := objectKeys(t, p.r), objectKeys(t, p.o)
		if p.name == "memory" {
			// "cache" is omitempty in both (runc's types.Memory): it is
			// there only when the container's page cache is not empty
			// at that moment, which depends on the machine, not on us.
			rk, ok = deleteKey(rk, "cache"), deleteKey(ok, "cache")
		}
		if strings.Join(rk, ",") != strings.Join(ok, ",") {
			t.Errorf("%s fields: runc %v, ocikit %v", p.name, rk, ok)
		}
	}
}

func dataOf(t *testing.T, s string) []byte {
	var e struct{ Data json.RawMessage }
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		t.Fatalf("event %q: %v", s, err)
	}
	return e.Data
}
