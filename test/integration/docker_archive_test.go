//go:build linux

package integration

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// ocikit image copy with docker archives against real peers: an archive
// ocikit writes is loaded and run by podman (and docker), archives podman
// and docker save are copied by ocikit into layouts `ocikit image
// validate` accepts, keeping the config.

// busyboxLayout builds a runnable busybox image (gzip layer, cmd true)
// with the ocikit binary and returns its layout reference.
func busyboxLayout(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	ref := filepath.Join(dir, "layout") + ":app"
	runTool(t, bin, "image", "init", filepath.Join(dir, "layout"))
	runTool(t, bin, "image", "new", ref)
	runTool(t, bin, "image", "add-layer", ref, rootfs)
	runTool(t, bin, "image", "config", ref, "--env", "PATH=/bin", "--cmd", "true")
	return ref
}

func configDigestOf(t *testing.T, bin, ref string) string {
	t.Helper()
	var img struct {
		Manifest struct {
			Config struct{ Digest string }
		}
	}
	out := runTool(t, bin, "image", "inspect", ref)
	if err := json.Unmarshal([]byte(out), &img); err != nil || img.Manifest.Config.Digest == "" {
		t.Fatalf("image inspect %s: %v\n%s", ref, err, out)
	}
	return img.Manifest.Config.Digest
}

func TestImageCopyDockerArchivePodman(t *testing.T) {
	testutil.RequireRoot(t)
	podman := testutil.RequireTool(t, "podman")
	testutil.RequireTool(t, "runc")
	bin := testutil.Binary(t)
	src := busyboxLayout(t, bin)
	tmp := t.TempDir()
	name := fmt.Sprintf("localhost/ocikit-dockerarchive-%d:v1", os.Getpid())

	archive := filepath.Join(tmp, "ocikit.tar")
	runTool(t, bin, "image", "copy", "-q", src, "docker-archive:"+archive+":"+name)

	short, err := os.MkdirTemp("", "ocikit-da-") // podman refuses a runroot over 50 characters
	if err != nil {
		t.Fatal(err)
	}
	// Podman here: runc (crun refuses the hybrid cgroup layout), cgroupfs,
	// no event log, rlimits within the hard limits.
	pod := []string{"--root", filepath.Join(short, "root"), "--runroot", filepath.Join(short, "run"), "--storage-driver", "vfs",
		"--cgroup-manager", "cgroupfs", "--events-backend", "none"}
	t.Cleanup(func() {
		exec.Command(podman, append(pod, "rmi", "-f", name)...).Run()
		os.RemoveAll(short)
	})
	if out := runTool(t, podman, append(pod, "load", "-i", archive)...); !strings.Contains(out, name) {
		t.Fatalf("podman load of ocikit's docker archive: no %s in\n%s", name, out)
	}
	runTool(t, podman, append(pod, "run", "--rm", "--runtime", "runc", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", name, "true")...)

	wantConfig := configDigestOf(t, bin, src)
	for _, format := range []string{"docker-archive", "oci-archive"} {
		saved := filepath.Join(tmp, format+".tar")
		runTool(t, podman, append(pod, "save", "--format", format, "-o", saved, name)...)
		back := filepath.Join(tmp, format+"-back")
		runTool(t, bin, "image", "copy", "-q", format+":"+saved, back+":v1")
		runTool(t, bin, "image", "validate", back+":v1")
		if got := configDigestOf(t, bin, back+":v1"); got != wantConfig {
			t.Fatalf("config through podman save --format %s: %s, want %s", format, got, wantConfig)
		}
	}
	// podman's docker archive names the image too.
	runTool(t, bin, "image", "copy", "-q", "docker-archive:"+filepath.Join(tmp, "docker-archive.tar")+":"+name, filepath.Join(tmp, "named")+":v1")
}

func TestImageCopyDockerArchiveDocker(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "dockerd")
	bin := testutil.Binary(t)
	src := busyboxLayout(t, bin)
	dir := t.TempDir()
	name := fmt.Sprintf("ocikit.test/dockerarchive-%d:v1", os.Getpid())
	archive := filepath.Join(dir, "ocikit.tar")
	runTool(t, bin, "image", "copy", "-q", src, "docker-archive:"+archive+":"+name)

	d := startDockerd(t, dir)
	if out := d.mustRun("load", "-i", archive); !strings.Contains(out, name) {
		t.Fatalf("docker load of ocikit's archive: no %s in\n%s", name, out)
	}
	d.mustRun(runArgs("--rm", name, "true")...)

	saved := filepath.Join(dir, "docker.tar")
	d.mustRun("save", "-o", saved, name)
	back := filepath.Join(dir, "back")
	runTool(t, bin, "image", "copy", "-q", "docker-archive:"+saved+":"+name, back+":v1")
	runTool(t, bin, "image", "validate", back+":v1")
	if got, want := configDigestOf(t, bin, back+":v1"), configDigestOf(t, bin, src); got != want {
		t.Fatalf("config through docker save: %s, want %s", got, want)
	}
}

// TestImageCopyProgressJSON: --progress json writes one JSON object per
// line on stderr, every transfer started is done, and the summary stays
// on stdout; with recompression the done event names the new blob and
// the one it was made from.
func TestImageCopyProgressJSON(t *testing.T) {
	bin := testutil.Binary(t)
	dir, _, _ := ocikitImage(t, "v1")
	tmp := t.TempDir()
	for _, args := range [][]string{
		{dir + ":v1", "docker-archive:" + filepath.Join(tmp, "a.tar") + ":app:v1"},
		{"docker-archive:" + filepath.Join(tmp, "a.tar"), filepath.Join(tmp, "zstd") + ":v1", "--dest-compress-format", "zstd"},
		{dir + ":v1", filepath.Join(tmp, "zstd") + ":v2"}, // the config is there: skipped
	} {
		cmd := exec.Command(bin, append([]string{"image", "copy", "--progress", "json"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("copy %v: %v\n%s", args, err, stderr.String())
		}
		if !strings.Contains(stdout.String(), "blobs,") {
			t.Fatalf("copy %v: no summary on stdout: %q", args, stdout.String())
		}
		open := map[string]bool{}
		kinds := map[string]int{}
		for i, line := range strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n") {
			var rec struct {
				Event, Digest, MediaType, From string
				Size, Bytes                    int64
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("copy %v: stderr line %d is not JSON: %q", args, i, line)
			}
			kinds[rec.Event]++
			switch rec.Event {
			case "start":
				open[rec.Digest] = true
			case "progress":
				if !open[rec.Digest] || rec.Bytes > rec.Size {
					t.Fatalf("progress without start or past the size: %q", line)
				}
			case "done":
				src := rec.Digest
				if rec.From != "" {
					src = rec.From
				}
				if !open[src] || rec.Bytes != rec.Size {
					t.Fatalf("done without start or short: %q", line)
				}
				delete(open, src)
			case "skipped":
			default:
				t.Fatalf("unknown event in %q", line)
			}
		}
		if len(open) != 0 || kinds["done"] == 0 {
			t.Fatalf("copy %v: transfers not done: %v (events %v)", args, open, kinds)
		}
		if len(args) == 2 && strings.HasSuffix(args[1], ":v2") && kinds["skipped"] == 0 {
			t.Fatalf("second copy skipped nothing: %v", kinds)
		}
	}
}

// TestImageCopyDockerArchiveHostile: a docker archive that escapes, links
// out of itself, carries a layer that is not its diff_id or is truncated
// fails to copy with one line, leaving an existing layout's index.json as
// it was, no new layout and no archive.
func TestImageCopyDockerArchiveHostile(t *testing.T) {
	bin := testutil.Binary(t)
	dir, _, _ := ocikitImage(t, "v1")
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.tar")
	runTool(t, bin, "image", "copy", "-q", dir+":v1", "docker-archive:"+good+":app:v1")
	whole, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	hostile := map[string]func(string){
		"escaping entry": func(p string) {
			rewriteTar(t, good, p, func(h *tar.Header, data []byte) []tarEntry {
				out := []tarEntry{{h, data}}
				if h.Name == "manifest.json" {
					out = append(out, tarEntry{&tar.Header{Name: "../../escaped", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x")})
				}
				return out
			})
		},
		"layer linked out": func(p string) {
			rewriteTar(t, good, p, func(h *tar.Header, data []byte) []tarEntry {
				if strings.HasSuffix(h.Name, ".tar") {
					return []tarEntry{{&tar.Header{Name: h.Name, Typeflag: tar.TypeSymlink, Linkname: "../../../etc/passwd"}, nil}}
				}
				return []tarEntry{{h, data}}
			})
		},
		"layer not its diff_id": func(p string) {
			rewriteTar(t, good, p, func(h *tar.Header, data []byte) []tarEntry {
				if strings.HasSuffix(h.Name, ".tar") {
					data = bytes.Repeat([]byte{0}, len(data))
				}
				return []tarEntry{{h, data}}
			})
		},
		"truncated": func(p string) {
			if err := os.WriteFile(p, whole[:len(whole)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, make := range hostile {
		t.Run(name, func(t *testing.T) {
			archive := filepath.Join(t.TempDir(), "hostile.tar")
			make(archive)
			dst := filepath.Join(t.TempDir(), "dst")
			runTool(t, bin, "image", "init", dst)
			runTool(t, bin, "image", "new", dst+":keep")
			before, err := os.ReadFile(filepath.Join(dst, "index.json"))
			if err != nil {
				t.Fatal(err)
			}
			newDir := filepath.Join(t.TempDir(), "new")
			outDir := t.TempDir()
			for _, to := range []string{dst + ":v1", newDir + ":v1", "docker-archive:" + filepath.Join(outDir, "out.tar") + ":app:v1"} {
				cmd := exec.Command(bin, "image", "copy", "-q", "docker-archive:"+archive, to)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Run(); err == nil {
					t.Fatalf("copy of a hostile archive to %s succeeded", to)
				}
				if msg := strings.TrimSpace(stderr.String()); msg == "" || strings.Contains(msg, "\n") {
					t.Fatalf("copy to %s: want one line of error, got %q", to, msg)
				}
				t.Log(strings.TrimSpace(stderr.String()))
			}
			after, err := os.ReadFile(filepath.Join(dst, "index.json"))
			if err != nil || !bytes.Equal(before, after) {
				t.Fatalf("destination index.json changed:\n%s\n%s", before, after)
			}
			if _, err := os.Lstat(newDir); err == nil {
				t.Fatal("a failed copy left a new layout")
			}
			if left, _ := os.ReadDir(outDir); len(left) != 0 {
				t.Fatalf("a failed copy left %v", left)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(filepath.Dir(archive)), "escaped")); err == nil {
				t.Fatal("an entry escaped the archive")
			}
		})
	}
}

// TestImageCopyRecompressUnpack: gzip -> zstd -> gzip (level 9) keeps the
// config and its diff_ids, the layouts validate, and the unpacked root
// filesystems are the same.
func TestImageCopyRecompressUnpack(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Binary(t)
	src := busyboxLayout(t, bin)
	tmp := t.TempDir()
	zstd, gzip := filepath.Join(tmp, "zstd")+":v1", filepath.Join(tmp, "gzip")+":v1"
	runTool(t, bin, "image", "copy", "-q", "--dest-compress-format", "zstd", src, zstd)
	runTool(t, bin, "image", "copy", "-q", "--dest-compress-format", "gzip", "--dest-compress-level", "9", zstd, gzip)
	var rootfs []string
	for i, ref := range []string{src, zstd, gzip} {
		if i > 0 {
			runTool(t, bin, "image", "validate", ref)
		}
		if got, want := configDigestOf(t, bin, ref), configDigestOf(t, bin, src); got != want {
			t.Fatalf("%s: config %s, want %s", ref, got, want)
		}
		bundle := filepath.Join(tmp, fmt.Sprintf("bundle%d", i))
		runTool(t, bin, "image", "unpack", ref, bundle)
		rootfs = append(rootfs, filepath.Join(bundle, "rootfs"))
	}
	for _, other := range rootfs[1:] {
		if out, err := exec.Command("diff", "-r", "--no-dereference", rootfs[0], other).CombinedOutput(); err != nil {
			t.Fatalf("unpacked rootfs differ: %v\n%s", err, out)
		}
	}
}
