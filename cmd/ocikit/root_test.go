package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestLogFileErrors: with --log and --log-format json a failing command
// writes its error to the log as containerd's go-runc reads it (a record
// whose "level" is exactly "error"), and prints one line on stderr.
func TestLogFileErrors(t *testing.T) {
	bin := testutil.Binary(t)
	dir := t.TempDir()
	tests := []struct {
		name   string
		format string
		check  func(t *testing.T, log string)
	}{
		{"json", "json", func(t *testing.T, log string) {
			sc := bufio.NewScanner(strings.NewReader(log))
			found := false
			for sc.Scan() {
				var rec map[string]any
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
				}
				if rec["level"] == "error" && strings.Contains(rec["msg"].(string), "nosuch") {
					found = true
				}
			}
			if !found {
				t.Fatalf("no {\"level\":\"error\"} record naming the container in %q", log)
			}
		}},
		{"text", "text", func(t *testing.T, log string) {
			if !strings.Contains(log, "level=error") || !strings.Contains(log, "nosuch") {
				t.Fatalf("log %q has no level=error record naming the container", log)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logFile := filepath.Join(dir, tt.name+".log")
			cmd := exec.Command(bin, "--root", filepath.Join(dir, "state"), "--log", logFile, "--log-format", tt.format, "state", "nosuch")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("state of a missing container succeeded: %s", out)
			}
			if lines := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; lines != 1 || !strings.HasPrefix(string(out), "ocikit: ") {
				t.Errorf("stderr = %q, want one line starting with \"ocikit: \"", out)
			}
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, string(data))
		})
	}
	// A flag the command lacks fails before the command runs; the shim
	// must still find the error in the log (else it reports "exit status 1").
	t.Run("flag error", func(t *testing.T) {
		logFile := filepath.Join(dir, "flag.log")
		out, err := exec.Command(bin, "--root", filepath.Join(dir, "state"), "--log", logFile, "--log-format", "json", "create", "--no-such-flag", "x").CombinedOutput()
		if err == nil {
			t.Fatalf("create --no-such-flag succeeded: %s", out)
		}
		data, err := os.ReadFile(logFile)
		if err != nil {
			t.Fatal(err)
		}
		var rec map[string]any
		if err := json.Unmarshal(data, &rec); err != nil || rec["level"] != "error" || !strings.Contains(rec["msg"].(string), "no-such-flag") {
			t.Fatalf("log %q: want one {\"level\":\"error\"} record naming the flag (%v)", data, err)
		}
	})
	// Without --log the log is stderr: in JSON, the error is a JSON
	// record there, as runc writes it.
	t.Run("json on stderr", func(t *testing.T) {
		var stderr strings.Builder
		cmd := exec.Command(bin, "--root", filepath.Join(dir, "state"), "--log-format", "json", "state", "nosuch")
		cmd.Stderr = &stderr
		if err := cmd.Run(); err == nil {
			t.Fatal("state of a missing container succeeded")
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(stderr.String()), &rec); err != nil || rec["level"] != "error" || rec["time"] == nil || !strings.Contains(rec["msg"].(string), "does not exist") {
			t.Fatalf("stderr %q: want one {\"level\":\"error\",\"msg\",\"time\"} record (%v)", stderr.String(), err)
		}
	})
	t.Run("bad format", func(t *testing.T) {
		out, err := exec.Command(bin, "--log-format", "xml", "version").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "unknown --log-format") {
			t.Fatalf("--log-format xml: err=%v out=%q", err, out)
		}
	})
}

// TestDefaultRoot: without --root the state lives where runc would keep
// its own: under $XDG_RUNTIME_DIR for an unprivileged user and for root
// of a user namespace other than the host's (a rootless podman, which
// passes no --root) unless USER is root; /run/ocikit otherwise.
func TestDefaultRoot(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Binary(t)
	xdg := t.TempDir()
	userns := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}}
	nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	tests := []struct {
		name string
		attr *syscall.SysProcAttr
		env  []string
		want string
	}{
		{"host root", nil, []string{"XDG_RUNTIME_DIR=" + xdg}, "/run/ocikit"},
		{"unprivileged", nobody, []string{"XDG_RUNTIME_DIR=" + xdg}, xdg + "/ocikit"},
		{"unprivileged without XDG_RUNTIME_DIR", nobody, nil, "/run/ocikit"},
		{"root of a user namespace", userns, []string{"XDG_RUNTIME_DIR=" + xdg, "USER=someone"}, xdg + "/ocikit"},
		{"root of a user namespace, USER=root", userns, []string{"XDG_RUNTIME_DIR=" + xdg, "USER=root"}, "/run/ocikit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "--help")
			cmd.Env, cmd.SysProcAttr = tc.env, tc.attr
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("ocikit --help: %v: %s", err, out)
			}
			if want := `(default "` + tc.want + `")`; !strings.Contains(string(out), "directory for container state (tmpfs recommended) "+want) {
				t.Errorf("--root default: want %s in %s", want, out)
			}
		})
	}
}
