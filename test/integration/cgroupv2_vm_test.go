package integration

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestCgroupV2VM boots a virtual machine on a pure cgroup v2 kernel (the
// development and CI machines are cgroup-hybrid) with test/vm/run.sh and
// reports each check the VM ran through the ocikit CLI as a subtest. The
// VM uses software emulation (TCG) and takes about a minute.
func TestCgroupV2VM(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a virtual machine")
	}
	testutil.RequireRoot(t)
	script := filepath.Join(testutil.ModuleRoot(t), "test", "vm", "run.sh")
	if os.Getenv("CI") != "" {
		// A fresh CI machine: install qemu and cpio if missing and fetch
		// the kernel, so that a missing piece fails below instead of
		// skipping the test.
		if out, err := exec.Command("bash", script, "deps").CombinedOutput(); err != nil {
			t.Fatalf("test/vm/run.sh deps: %v\n%s", err, out)
		}
	}
	testutil.RequireTool(t, "qemu-system-x86_64")
	testutil.RequireTool(t, "cpio")
	bin := testutil.Binary(t)

	runVMChecks(t, 8*time.Minute, bin, script)
}

// runVMChecks runs the VM test script (its "run" mode) with OCIKIT=bin
// and reports each check the VM printed (VMTEST plan, ok, skip, fail
// lines) as a subtest of t.
func runVMChecks(t *testing.T, timeout time.Duration, bin, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "run")
	cmd.Env = append(os.Environ(), "OCIKIT="+bin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	res := parseVMTest(out)
	for _, info := range res.info {
		t.Log(info)
	}
	if len(res.plan) == 0 {
		t.Fatalf("the VM ran no check (%v)\nstderr:\n%s\nconsole:\n%s", runErr, stderr.Bytes(), tail(out, 40))
	}
	for _, name := range res.plan {
		t.Run(name, func(t *testing.T) {
			r, ok := res.results[name]
			switch {
			case !ok:
				t.Fatalf("no result: the VM stopped before this check\nconsole:\n%s", tail(out, 40))
			case r.skip:
				t.Skip(r.reason)
			case !r.ok:
				t.Fatalf("%s%s", r.reason, r.detail)
			}
		})
	}
	if !res.done {
		t.Errorf("the VM did not finish (%v)\nstderr:\n%s", runErr, stderr.Bytes())
	}
}

// vmResult is the outcome of one check: ok, skipped for a reason, or
// failed for a reason with the lines of the check's log the VM printed
// after it.
type vmResult struct {
	ok     bool
	skip   bool
	reason string
	detail string
}

type vmReport struct {
	plan    []string
	results map[string]vmResult
	info    []string
	done    bool
}

// parseVMTest reads the VM's console: "VMTEST plan|ok|fail|skip|info|done"
// lines (possibly preceded by terminal escapes on the same line) and the
// "  | " log lines following a failure. Anything else is console noise.
func parseVMTest(console []byte) vmReport {
	rep := vmReport{results: map[string]vmResult{}}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(console))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "  | ") && last != "" {
			r := rep.results[last]
			r.detail += "\n" + line
			rep.results[last] = r
			continue
		}
		i := strings.Index(line, "VMTEST ")
		if i < 0 {
			continue
		}
		last = ""
		kind, rest, _ := strings.Cut(line[i+len("VMTEST "):], " ")
		switch kind {
		case "plan":
			rep.plan = strings.Fields(rest)
		case "ok":
			rep.results[rest] = vmResult{ok: true}
		case "fail":
			name, reason, _ := strings.Cut(rest, ": ")
			rep.results[name] = vmResult{reason: reason}
			last = name
		case "skip":
			name, reason, _ := strings.Cut(rest, ": ")
			rep.results[name] = vmResult{skip: true, reason: reason}
		case "info":
			rep.info = append(rep.info, rest)
		case "done":
			rep.done = true
		}
	}
	return rep
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestParseVMTest(t *testing.T) {
	tests := []struct {
		name    string
		console string
		plan    []string
		ok      []string
		skipped []string
		failed  map[string]string // check -> reason + detail
		missing []string
		done    bool
	}{
		{
			name: "all pass after firmware noise",
			console: "SeaBIOS\r\n\x1bc\x1b[?7l\x1b[2JVMTEST info boot_seconds 3.1\r\n" +
				"VMTEST plan a b\r\nVMTEST ok a\r\n[   33.9] Memory cgroup out of memory\r\nVMTEST ok b\r\nVMTEST done\r\n",
			plan: []string{"a", "b"},
			ok:   []string{"a", "b"},
			done: true,
		},
		{
			name: "failure with reason and log",
			console: "VMTEST plan a b c\nVMTEST fail a: x is \"1\", want \"2\": really\n  | ocikit: boom\n" +
				"VMTEST info seconds_a 0.1\n  | not a's\nVMTEST ok b\nVMTEST skip c: no loop.ko\nVMTEST done\n",
			plan:    []string{"a", "b", "c"},
			ok:      []string{"b"},
			skipped: []string{"c"},
			failed:  map[string]string{"a": "x is \"1\", want \"2\": really\n  | ocikit: boom"},
			done:    true,
		},
		{
			name:    "VM stopped early",
			console: "VMTEST plan a b c\nVMTEST ok a\nKernel panic\n",
			plan:    []string{"a", "b", "c"},
			ok:      []string{"a"},
			missing: []string{"b", "c"},
		},
		{
			name:    "no plan",
			console: "qemu: could not load kernel\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := parseVMTest([]byte(tt.console))
			if strings.Join(rep.plan, " ") != strings.Join(tt.plan, " ") {
				t.Errorf("plan %q, want %q", rep.plan, tt.plan)
			}
			for _, name := range tt.ok {
				if r, found := rep.results[name]; !found || !r.ok {
					t.Errorf("%s: %+v, want ok", name, r)
				}
			}
			for _, name := range tt.skipped {
				if r, found := rep.results[name]; !found || !r.skip || r.ok {
					t.Errorf("%s: %+v, want skipped", name, r)
				}
			}
			for name, want := range tt.failed {
				r, found := rep.results[name]
				if !found || r.ok || r.reason+r.detail != want {
					t.Errorf("%s: %+v, want failure %q", name, r, want)
				}
			}
			for _, name := range tt.missing {
				if r, found := rep.results[name]; found {
					t.Errorf("%s: %+v, want no result", name, r)
				}
			}
			if rep.done != tt.done {
				t.Errorf("done %v, want %v", rep.done, tt.done)
			}
		})
	}
}
