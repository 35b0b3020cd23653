//go:build linux

package integration

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocikit/ocikit/internal/testutil"
)

// TestCritest runs the CRI validation suite (critest from cri-tools) against
// a private containerd whose runc shim runs each runtime named in
// $OCIKIT_CRITEST (e.g. "runc,ocikit"; $OCIKIT_CRITEST_FOCUS: only the
// specs matching this regular expression), and reports the counts side by side
// and every test ocikit fails that runc passes. It takes long: the script
// test/cri/critest.sh runs it, `make test` skips it.
//
// The images critest pulls (from registry.k8s.io and gcr.io) are built here
// from Debian's busybox with ocikit, pushed with skopeo to a local registry
// (Debian's docker-registry) and reached through containerd's mirror
// configuration (hosts.toml); pods get a bridge network from Debian's CNI
// plugins.
func TestCritest(t *testing.T) {
	runtimes := os.Getenv("OCIKIT_CRITEST")
	if runtimes == "" {
		t.Skip("long: run test/cri/critest.sh (OCIKIT_CRITEST=runc,ocikit)")
	}
	testutil.RequireRoot(t)
	for _, tool := range []string{"containerd", "docker-registry", "skopeo", "gcc", "iptables"} {
		testutil.RequireTool(t, tool)
	}
	bin := testutil.Binary(t)
	critest := criTool(t, "critest")
	outDir := os.Getenv("OCIKIT_CRITEST_OUT")
	if outDir == "" {
		outDir = t.TempDir()
	}
	dir := t.TempDir()
	registry := startRegistry(t, dir)
	mirrors := registryMirrors(t, dir, registry, "registry.k8s.io", "gcr.io", "k8s.gcr.io")
	criTestImages(t, bin, dir, registry)
	cniConf := bridgeCNI(t, dir)

	results := map[string]map[string]criCase{}
	var names []string
	for _, rt := range strings.Split(runtimes, ",") {
		binary := bin
		if rt != "ocikit" {
			binary = testutil.RequireTool(t, rt)
		}
		names = append(names, rt)
		results[rt] = runCritest(t, critest, binary, rt, mirrors, cniConf, outDir)
	}

	// The counts side by side, then what ocikit fails that runc passes.
	var b strings.Builder
	fmt.Fprintf(&b, "| runtime | specs run | passed | failed | skipped |\n| --- | --- | --- | --- | --- |\n")
	for _, rt := range names {
		var pass, fail, skip int
		for _, c := range results[rt] {
			switch c.status {
			case "passed":
				pass++
			case "failed":
				fail++
			default:
				skip++
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d |\n", rt, pass+fail, pass, fail, skip)
	}
	if ref, ours := results["runc"], results["ocikit"]; ref != nil && ours != nil {
		var worse []string
		for name, c := range ours {
			if c.status == "failed" && ref[name].status == "passed" {
				worse = append(worse, fmt.Sprintf("- %s: %s", name, c.message))
			}
		}
		sort.Strings(worse)
		fmt.Fprintf(&b, "\nFailed with ocikit, passed with runc: %d\n%s\n", len(worse), strings.Join(worse, "\n"))
		var better []string
		for name, c := range ours {
			if c.status == "passed" && ref[name].status == "failed" {
				better = append(better, "- "+name)
			}
		}
		sort.Strings(better)
		fmt.Fprintf(&b, "\nPassed with ocikit, failed with runc: %d\n%s\n", len(better), strings.Join(better, "\n"))
	}
	summary := filepath.Join(outDir, "summary.md")
	os.WriteFile(summary, []byte(b.String()), 0o644)
	t.Logf("critest results (%s):\n%s", summary, b.String())
}

// criCase is one spec of critest's JUnit report.
type criCase struct {
	status  string // passed, failed, skipped
	message string // the failure's first line
}

// runCritest starts containerd with binary as the runc shim's BinaryName,
// runs critest against it and returns its specs by name.
func runCritest(t *testing.T, critest, binary, name, mirrors, cniConf, outDir string) map[string]criCase {
	t.Helper()
	dir := t.TempDir()
	c := startContainerdWith(t, dir, "k8s.io", criConfig(dir, criSetup{
		binary: binary, sandbox: "registry.k8s.io/pause:3.9", streamPort: freePort(t),
		cniConfDir: cniConf, mirrorsDir: mirrors, snapshotter: "native",
	}))
	report := filepath.Join(outDir, "junit-"+name+".xml")
	logPath := filepath.Join(outDir, "critest-"+name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	ep := "unix://" + c.sock
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Minute)
	defer cancel()
	args := []string{"--runtime-endpoint", ep, "--image-endpoint", ep, "--ginkgo.no-color", "--ginkgo.junit-report", report, "--ginkgo.timeout", "75m"}
	if focus := os.Getenv("OCIKIT_CRITEST_FOCUS"); focus != "" {
		args = append(args, "--ginkgo.focus", focus)
	}
	cmd := exec.CommandContext(ctx, critest, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	t0 := time.Now()
	err = cmd.Run()
	t.Logf("critest with %s: %v in %v (log %s)", name, err, time.Since(t0).Round(time.Second), logPath)
	// Pods critest left behind (a failed spec's) go before the daemon.
	newCrictl(t, dir, c).run("", "rmp", "-fa")
	return parseJUnit(t, report)
}

func parseJUnit(t *testing.T, path string) map[string]criCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("critest report: %v", err)
	}
	var suites struct {
		Suites []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Status  string `xml:"status,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatalf("critest report %s: %v", path, err)
	}
	out := map[string]criCase{}
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			cs := criCase{status: c.Status}
			switch {
			case c.Failure != nil:
				cs.status, cs.message = "failed", firstLine(c.Failure.Message+" "+c.Failure.Text)
			case c.Error != nil:
				cs.status, cs.message = "failed", firstLine(c.Error.Message)
			case c.Status == "passed":
			default:
				cs.status = "skipped"
			}
			if strings.HasPrefix(c.Name, "[BeforeSuite]") || strings.HasPrefix(c.Name, "[AfterSuite]") || strings.HasPrefix(c.Name, "[SynchronizedBeforeSuite]") {
				continue
			}
			out[c.Name] = cs
		}
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// startRegistry starts Debian's docker-registry (CNCF distribution) on a
// free 127.0.0.1 port with its storage under dir, and returns host:port.
func startRegistry(t *testing.T, dir string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := filepath.Join(dir, "registry.yml")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
`, filepath.Join(dir, "registry"), addr)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testutil.RequireTool(t, "docker-registry"), "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	waitDaemon(t, "docker-registry", exited, 30*time.Second, 100*time.Millisecond, func() error {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	return addr
}

// registryMirrors writes containerd's registry hosts directory: each host
// pulls from the local registry over plain HTTP.
func registryMirrors(t *testing.T, dir, registry string, hosts ...string) string {
	t.Helper()
	root := filepath.Join(dir, "certs.d")
	for _, h := range hosts {
		if err := os.MkdirAll(filepath.Join(root, h), 0o755); err != nil {
			t.Fatal(err)
		}
		toml := fmt.Sprintf("server = \"https://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", h, registry)
		if err := os.WriteFile(filepath.Join(root, h, "hosts.toml"), []byte(toml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// bridgeCNI writes a CNI configuration: a bridge of its own with
// host-local addresses and port mappings, for critest's networking specs.
func bridgeCNI(t *testing.T, dir string) string {
	t.Helper()
	conf := filepath.Join(dir, "net.d")
	bridge := fmt.Sprintf("ocikitcri%d", os.Getpid()%100000)
	data := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "ocikit-critest", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.213.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
]}`, bridge, filepath.Join(dir, "cni-ipam"))
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "10-ocikit.conflist"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", bridge).Run() })
	return conf
}

// criImage is one image critest pulls, as built here: files over the
// busybox rootfs and image config flags.
type criImage struct {
	refs   []string          // repository:tag in the local registry (the upstream path, host removed)
	files  map[string]string // path → content (a "mode:" prefix sets the mode, octal)
	config []string
}

// criTestImages builds the images critest pulls and pushes them to the
// local registry under their upstream paths.
func criTestImages(t *testing.T, bin, dir, registry string) {
	t.Helper()
	base := fullBusybox(t, dir)
	// Debian's busybox has no pgrep applet; critest asks only whether a
	// process of that name runs.
	if err := os.WriteFile(filepath.Join(base, "bin", "pgrep"), []byte("#!/bin/sh\nexec pidof \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Debian's busybox has neither pgrep nor ipcs; critest asks only
	// whether a process of a name runs, and for the shared memory ids.
	tools := map[string]string{
		"pgrep": "#!/bin/sh\nexec pidof \"$@\"\n",
		"ipcs": "#!/bin/sh\n# ipcs -m: the segments of this IPC namespace\necho '------ Shared Memory Segments --------'\necho 'key shmid owner perms bytes nattch'\n" +
			"tail -n +2 /proc/sysvipc/shm | while read key shmid perms size cpid lpid nattch uid rest; do echo \"$key $shmid $uid $perms $size $nattch\"; done\n",
	}
	for name, script := range tools {
		if err := os.WriteFile(filepath.Join(base, "bin", name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cc := func(name, src string) []byte {
		c := filepath.Join(dir, name+".c")
		if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("gcc", "-static", "-O2", "-o", filepath.Join(dir, name), c).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	nnpBin := cc("nnp", "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"Effective uid: %d\\n\", geteuid());return 0;}\n")
	// The sandbox's process, as the pause image's: sleeps until a
	// signal ends it (and is not named like a program critest looks for).
	pauseBin := cc("pause", "#include <signal.h>\n#include <unistd.h>\nstatic void bye(int s){(void)s;_exit(0);}\n"+
		"int main(void){signal(SIGTERM,bye);signal(SIGINT,bye);for(;;)pause();}\n")
	const passwd = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	const group = "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n"
	// An nginx stand-in: busybox httpd, the pid file and process name
	// critest looks for, and an exit on SIGTERM.
	web := func(port int) map[string]string {
		return map[string]string{
			// Run as "nginx" "master process": the process name and the
			// command line critest looks for.
			"usr/sbin/nginx":                  "0755:#!/bin/sh\necho $$ > /var/run/nginx.pid\ntrap 'exit 0' TERM\nhttpd -f -p " + fmt.Sprint(port) + " -h /usr/share/nginx/html &\nwait\n",
			"usr/share/nginx/html/index.html": "<title>Welcome to nginx!</title>\n",
			"var/run/.keep":                   "",
		}
	}
	httpd := map[string]string{
		"usr/local/bin/httpd-foreground":      "0755:#!/bin/sh\necho httpd started\ntrap 'exit 0' TERM\nhttpd -f -p 80 -h /usr/local/apache2/htdocs &\nwait\n",
		"usr/local/apache2/htdocs/index.html": "<html><body><h1>It works!</h1></body></html>\n",
	}
	const cri = "k8s-staging-cri-tools/"
	images := []criImage{
		{refs: []string{"e2e-test-images/busybox:1.29-2"}, config: []string{"--cmd", "sh"}},
		{refs: []string{"pause:3.9"}, files: map[string]string{"pause": "0755:" + string(pauseBin)}, config: []string{"--entrypoint", "/pause"}},
		{refs: []string{"e2e-test-images/nginx:1.14-2"}, files: web(80), config: []string{"--entrypoint", "/usr/sbin/nginx", "--cmd", "master process"}},
		{refs: []string{cri + "hostnet-nginx-amd64:latest"}, files: web(12003), config: []string{"--entrypoint", "/usr/sbin/nginx", "--cmd", "master process"}},
		{refs: []string{"e2e-test-images/httpd:2.4.39-4"}, files: httpd, config: []string{"--entrypoint", "/usr/local/bin/httpd-foreground"}},
		{refs: []string{"e2e-test-images/nonewprivs:1.3"}, files: map[string]string{"usr/local/bin/nnp": "4755:" + string(nnpBin)},
			config: []string{"--entrypoint", "/usr/local/bin/nnp"}},
		{refs: []string{cri + "test-image-user-uid:latest"}, files: map[string]string{"etc/passwd": passwd, "etc/group": group}, config: []string{"--user", "1002"}},
		{refs: []string{cri + "test-image-user-username:latest"}, files: map[string]string{"etc/passwd": passwd, "etc/group": group}, config: []string{"--user", "www-data"}},
		{refs: []string{cri + "test-image-user-uid-group:latest"}, files: map[string]string{"etc/passwd": passwd, "etc/group": group}, config: []string{"--user", "1003:1004"}},
		{refs: []string{cri + "test-image-user-username-group:latest"}, files: map[string]string{"etc/passwd": passwd, "etc/group": group}, config: []string{"--user", "www-data:1004"}},
		{refs: []string{cri + "test-image-predefined-group:latest"}, files: map[string]string{
			"etc/passwd": passwd + "default-user:x:1000:1000::/home/default-user:/bin/sh\n",
			"etc/group":  group + "default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n",
		}, config: []string{"--user", "1000"}},
		{refs: []string{cri + "test-image-1:latest"}, files: map[string]string{"test-image-1": ""}},
		{refs: []string{cri + "test-image-2:latest"}, files: map[string]string{"test-image-2": ""}},
		{refs: []string{cri + "test-image-3:latest"}, files: map[string]string{"test-image-3": ""}},
		{refs: []string{cri + "test-image-latest:latest"}, files: map[string]string{"test-image-latest": ""}},
		{refs: []string{cri + "test-image-tags:1", cri + "test-image-tags:2", cri + "test-image-tags:3"}, files: map[string]string{"same-image": ""}},
		{refs: []string{cri + "test-image-tag:test", cri + "test-image-tag:all"}, files: map[string]string{"test-image-tag": ""}},
	}
	layout := filepath.Join(dir, "critest-images")
	for i, img := range images {
		tag := fmt.Sprintf("img%d", i)
		args := [][]string{{"image", "new", layout + ":" + tag}, {"image", "add-layer", layout + ":" + tag, base}}
		if len(img.files) > 0 {
			extra := filepath.Join(dir, "extra", tag)
			for p, content := range img.files {
				mode := os.FileMode(0o644)
				if len(content) > 5 && content[4] == ':' {
					var m uint32
					if _, err := fmt.Sscanf(content[:4], "%o", &m); err == nil {
						mode, content = os.FileMode(m&0o777), content[5:]
						if m&0o4000 != 0 {
							mode |= os.ModeSetuid
						}
					}
				}
				full := filepath.Join(extra, p)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(content), mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(full, mode); err != nil {
					t.Fatal(err)
				}
			}
			args = append(args, []string{"image", "add-layer", layout + ":" + tag, extra})
		}
		config := img.config
		if !slices.Contains(config, "--cmd") && !slices.Contains(config, "--entrypoint") {
			config = append(config, "--cmd", "sh") // busybox's
		}
		args = append(args, append([]string{"image", "config", layout + ":" + tag, "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, config...))
		for _, a := range args {
			if out, err := exec.Command(bin, a...).CombinedOutput(); err != nil {
				t.Fatalf("ocikit %s: %v\n%s", strings.Join(a, " "), err, out)
			}
		}
		for _, ref := range img.refs {
			out, err := exec.Command("skopeo", "copy", "-q", "--dest-tls-verify=false", "oci:"+layout+":"+tag, "docker://"+registry+"/"+ref).CombinedOutput()
			if err != nil {
				t.Fatalf("skopeo copy to %s: %v\n%s", ref, err, out)
			}
		}
	}
}
