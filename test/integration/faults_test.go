//go:build linux

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestFaultsUnderLoad is issue 7's fault test: containers are created,
// started, exec'd into, killed and deleted from parallel workers while
// random ocikit processes (runtime commands and container inits) are
// SIGKILLed. Afterwards `list` must show every container whose create
// succeeded and whose delete did not, `list` itself must work, and
// `delete --force` of everything must leave no state directory, mount,
// cgroup or process behind.
func TestFaultsUnderLoad(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("long: 200 containers under random SIGKILLs")
	}
	bin := testutil.Binary(t)
	const workers, perWorker = 10, 20

	work := t.TempDir()
	rootfs := filepath.Join(work, "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	root := filepath.Join(work, "state")
	cgParent := fmt.Sprintf("ocikit-faults-%d", os.Getpid())
	t.Cleanup(func() { removeCgroupTree(t, cgParent) })

	// One bundle per container: each has its own cgroup under cgParent.
	base := specFor(t, bin, work)
	bundle := func(id string) string {
		dir := filepath.Join(work, "bundles", id)
		spec := cloneMap(base)
		spec["root"] = map[string]any{"path": rootfs, "readonly": true}
		proc := spec["process"].(map[string]any)
		proc["terminal"] = false
		proc["args"] = []string{"sleep", "1000"}
		spec["linux"].(map[string]any)["cgroupsPath"] = "/" + cgParent + "/" + id
		writeJSON(t, filepath.Join(dir, "config.json"), spec)
		return dir
	}

	rt := func(ctx context.Context, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, append([]string{"--root", root}, args...)...)
		// A file, not a pipe: the container inherits create's stdio and
		// would hold a pipe open.
		out, err := os.CreateTemp(work, "out")
		if err != nil {
			return "", err
		}
		defer os.Remove(out.Name())
		defer out.Close()
		cmd.Stdout, cmd.Stderr = out, out
		err = cmd.Run()
		data, _ := os.ReadFile(out.Name())
		return strings.TrimSpace(string(data)), err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The killer: every few milliseconds, SIGKILL one random process of
	// ours, a runtime command (its --root is ours) or a container init
	// not yet running the user's program (comm "ocikit:init").
	var kills atomic.Int64
	stopKiller := make(chan struct{})
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for {
			select {
			case <-stopKiller:
				return
			case <-time.After(time.Duration(10+rand.IntN(50)) * time.Millisecond):
			}
			pids := ourProcesses(root, cgParent)
			if len(pids) == 0 {
				continue
			}
			if syscall.Kill(pids[rand.IntN(len(pids))], syscall.SIGKILL) == nil {
				kills.Add(1)
			}
		}
	}()

	// A delete that failed (it may have been killed halfway) leaves the
	// container's existence open; only the cleanup below settles it.
	type outcome struct {
		created, deleteTried, deleted bool
	}
	var mu sync.Mutex
	outcomes := map[string]*outcome{}
	var ops, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				id := fmt.Sprintf("f%d-%d", w, i)
				b := bundle(id)
				o := &outcome{}
				mu.Lock()
				outcomes[id] = o
				mu.Unlock()
				step := func(args ...string) bool {
					ops.Add(1)
					_, err := rt(ctx, args...)
					if err != nil {
						failed.Add(1)
					}
					return err == nil
				}
				if !step("create", "--bundle", b, id) {
					// A killed create may have left something: the
					// outcome is unknown, checked below.
					continue
				}
				o.created = true
				step("start", id)
				step("exec", id, "true")
				// Half of the containers stay behind for the final
				// cleanup; the others are deleted now.
				if i%2 == 0 {
					step("kill", id, "KILL")
					o.deleteTried = true
					if step("delete", "--force", id) {
						o.deleted = true
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(stopKiller)
	<-killerDone

	// list works and shows what must exist.
	listed := listIDs(t, rt, ctx)
	var mustExist, present int
	for id, o := range outcomes {
		switch {
		case o.created && !o.deleteTried:
			mustExist++
			if !listed[id] {
				t.Errorf("list: %s was created and not deleted but is missing", id)
			} else {
				present++
			}
		case o.deleted && listed[id]:
			t.Errorf("list: %s was deleted but is listed", id)
		}
	}

	// delete --force of everything that may exist.
	for id := range outcomes {
		if out, err := rt(ctx, "delete", "--force", id); err != nil && !strings.Contains(out, "does not exist") {
			t.Errorf("delete --force %s: %v: %s", id, err, out)
		}
	}
	if ids := listIDs(t, rt, ctx); len(ids) > 0 {
		t.Errorf("list after delete --force of everything: %v", keys(ids))
	}
	if ents, _ := os.ReadDir(root); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left under --root: %v", names)
	}
	if m := mountsUnder(t, work); len(m) > 0 {
		t.Errorf("left mounted: %v", m)
	}
	if cg := cgroupsLeft(cgParent); len(cg) > 0 {
		t.Errorf("cgroups left: %v", cg)
	}
	if p := ourProcesses(root, cgParent); len(p) > 0 {
		t.Errorf("processes left: %v", p)
	}
	t.Logf("%d containers, %d operations (%d failed), %d processes SIGKILLed; %d containers had to exist and %d were listed",
		len(outcomes), ops.Load(), failed.Load(), kills.Load(), mustExist, present)
}

func specFor(t *testing.T, bin, dir string) map[string]any {
	t.Helper()
	d := filepath.Join(dir, "spec")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "spec")
	cmd.Dir = d
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ocikit spec: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(d, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func cloneMap(m map[string]any) map[string]any {
	data, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(data, &out)
	return out
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func listIDs(t *testing.T, rt func(context.Context, ...string) (string, error), ctx context.Context) map[string]bool {
	t.Helper()
	out, err := rt(ctx, "list", "--format", "json")
	if err != nil {
		t.Fatalf("list: %v: %s", err, out)
	}
	var states []struct {
		ID string `json:"id"`
	}
	if out != "" && out != "null" {
		if err := json.Unmarshal([]byte(out), &states); err != nil {
			t.Fatalf("list --format json: %v: %s", err, out)
		}
	}
	ids := map[string]bool{}
	for _, s := range states {
		ids[s.ID] = true
	}
	return ids
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// ourProcesses lists the runtime commands working on root and the
// processes in the cgroups under cgParent.
func ourProcesses(root, cgParent string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		// Zombies hold nothing but their pid until their parent (here
		// pid 1, for containers whose runtime has exited) reaps them.
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err != nil ||
			bytes.Contains(stat[bytes.LastIndexByte(stat, ')')+1:], []byte(" Z ")) {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if bytes.Contains(cmdline, []byte(root)) {
			pids = append(pids, pid)
			continue
		}
		cg, _ := os.ReadFile("/proc/" + e.Name() + "/cgroup")
		if bytes.Contains(cg, []byte("/"+cgParent+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cgroupsLeft lists the cgroup directories under cgParent in every
// mounted hierarchy.
func cgroupsLeft(cgParent string) []string {
	var left []string
	for _, h := range cgroupHierarchies() {
		ents, err := os.ReadDir(filepath.Join(h, cgParent))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() {
				left = append(left, filepath.Join(h, cgParent, e.Name()))
			}
		}
	}
	return left
}

func cgroupHierarchies() []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		for i, x := range f {
			if x == "-" && i+1 < len(f) && (f[i+1] == "cgroup" || f[i+1] == "cgroup2") {
				out = append(out, f[4])
			}
		}
	}
	return out
}

func removeCgroupTree(t *testing.T, cgParent string) {
	for _, h := range cgroupHierarchies() {
		p := filepath.Join(h, cgParent)
		ents, _ := os.ReadDir(p)
		for _, e := range ents {
			if e.IsDir() {
				os.Remove(filepath.Join(p, e.Name()))
			}
		}
		os.Remove(p)
	}
}

// mountsUnder lists the mount points at or below dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}
