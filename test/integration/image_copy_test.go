package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// ocikit image copy against real peers: archives written by skopeo and
// podman are read by ocikit, archives written by ocikit are read by skopeo,
// and hostile archives fail without touching the destination.

func TestImageCopySkopeoArchive(t *testing.T) {
	skopeo := testutil.RequireTool(t, "skopeo")
	bin := testutil.Binary(t)
	dir, manifest, _ := ocikitImage(t, "v1")
	tmp := t.TempDir()

	// skopeo writes the archive, ocikit reads it back.
	skArchive := filepath.Join(tmp, "skopeo.tar")
	runTool(t, skopeo, "copy", "oci:"+dir+":v1", "oci-archive:"+skArchive+":v1")
	back := filepath.Join(tmp, "back")
	runTool(t, bin, "image", "copy", "-q", "oci-archive:"+skArchive+":v1", back+":v1")
	checkReadByOcikit(t, back, "v1", 1)
	requireValid(t, back, "v1")
	if out := runTool(t, bin, "image", "ls", back); !strings.Contains(out, string(manifest.Digest)) {
		t.Fatalf("manifest digest changed through skopeo's archive, want %s:\n%s", manifest.Digest, out)
	}

	// An archive skopeo writes without a tag (no ref.name annotation) names
	// its only image.
	untagged := filepath.Join(tmp, "untagged.tar")
	runTool(t, skopeo, "copy", "oci:"+dir+":v1", "oci-archive:"+untagged)
	out := runTool(t, bin, "image", "copy", "oci-archive:"+untagged, filepath.Join(tmp, "untagged")+":v1")
	if !strings.Contains(out, string(manifest.Digest)) {
		t.Fatalf("copy of skopeo's untagged archive: want %s:\n%s", manifest.Digest, out)
	}

	// ocikit writes the archive, skopeo inspects and copies it.
	ocArchive := filepath.Join(tmp, "ocikit.tar")
	out = runTool(t, bin, "image", "copy", "oci:"+dir+":v1", "oci-archive:"+ocArchive+":v1")
	if !strings.Contains(out, string(manifest.Digest)) {
		t.Fatalf("image copy output does not name %s:\n%s", manifest.Digest, out)
	}
	raw := runTool(t, skopeo, "inspect", "--raw", "oci-archive:"+ocArchive+":v1")
	sum := sha256.Sum256([]byte(raw))
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != string(manifest.Digest) {
		t.Fatalf("skopeo inspect --raw of ocikit's archive: manifest %s, want %s", got, manifest.Digest)
	}
	runTool(t, skopeo, "inspect", "oci-archive:"+ocArchive) // no tag: the only image
	skBack := filepath.Join(tmp, "skopeo-back")
	runTool(t, skopeo, "copy", "oci-archive:"+ocArchive+":v1", "oci:"+skBack+":v1")
	checkReadByOcikit(t, skBack, "v1", 1)
	if out := runTool(t, bin, "image", "ls", skBack); !strings.Contains(out, string(manifest.Digest)) {
		t.Fatalf("manifest digest changed through ocikit's archive and skopeo, want %s:\n%s", manifest.Digest, out)
	}

	// A second copy to the same layout skips every blob.
	out = runTool(t, bin, "image", "copy", "oci-archive:"+skArchive+":v1", back+":v2")
	if !strings.Contains(out, "3 blobs, 2 skipped") {
		t.Fatalf("second copy did not skip the layer and config:\n%s", out)
	}
}

func TestImageCopyPodmanArchive(t *testing.T) {
	podman := testutil.RequireTool(t, "podman")
	testutil.RequireRoot(t)
	bin := testutil.Binary(t)
	dir, manifest, _ := ocikitImage(t, "v1")
	tmp := t.TempDir()
	archive := filepath.Join(tmp, "in.tar")
	runTool(t, bin, "image", "copy", "-q", dir+":v1", "oci-archive:"+archive+":v1")
	short, err := os.MkdirTemp("", "ocikit-copy-") // podman refuses a runroot over 50 characters
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	pod := []string{"--root", filepath.Join(short, "root"), "--runroot", filepath.Join(short, "run"), "--storage-driver", "vfs"}
	out := runTool(t, podman, append(pod, "load", "-q", "-i", archive)...)
	id := strings.TrimSpace(out[strings.LastIndex(out, " ")+1:])
	saved := filepath.Join(tmp, "podman.tar")
	runTool(t, podman, append(pod, "save", "--format", "oci-archive", "-o", saved, id)...)
	back := filepath.Join(tmp, "back")
	runTool(t, bin, "image", "copy", "-q", "oci-archive:"+saved, back+":v1")
	checkReadByOcikit(t, back, "v1", 1)
	requireValid(t, back, "v1")
	_ = manifest // podman recompresses the layer: the config, not the manifest, is what stays
	if got, want := inspectConfigDigest(t, back), inspectConfigDigest(t, dir); got != want {
		t.Fatalf("config through podman: %s, want %s", got, want)
	}
}

// rewriteTar copies the tar at src to dst, letting edit change each
// entry's header and content (or drop it: nil) and add entries after it.
func rewriteTar(t *testing.T, src, dst string, edit func(h *tar.Header, data []byte) []tarEntry) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	tr, tw := tar.NewReader(f), tar.NewWriter(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range edit(h, data) {
			e.h.Size = int64(len(e.data))
			if err := tw.WriteHeader(e.h); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type tarEntry struct {
	h    *tar.Header
	data []byte
}

func TestImageCopyHostileArchive(t *testing.T) {
	bin := testutil.Binary(t)
	dir, _, layerDesc := ocikitImage(t, "v1")
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.tar")
	runTool(t, bin, "image", "copy", "-q", dir+":v1", "oci-archive:"+good+":v1")
	whole, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	layerName := "blobs/sha256/" + layerDesc.Digest.Encoded()

	hostile := map[string]func(string){
		"escaping entry": func(p string) {
			rewriteTar(t, good, p, func(h *tar.Header, data []byte) []tarEntry {
				out := []tarEntry{{h, data}}
				if h.Name == "index.json" {
					out = append(out, tarEntry{&tar.Header{Name: "../../escaped", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("x")})
				}
				return out
			})
		},
		"symlinked blob": func(p string) {
			rewriteTar(t, good, p, func(h *tar.Header, data []byte) []tarEntry {
				if h.Name == layerName {
					return []tarEntry{{&tar.Header{Name: layerName, Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}, nil}}
				}
				return []tarEntry{{h, data}}
			})
		},
		"wrong digest": func(p string) {
			rewriteTar(t, good, p, func(h *tar.Header, data []byte) []tarEntry {
				if h.Name == layerName {
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
			// Into an existing layout (holding another image, so no blob is
			// skipped): its index.json stays as it was.
			dst := filepath.Join(t.TempDir(), "dst")
			runTool(t, bin, "image", "init", dst)
			runTool(t, bin, "image", "new", dst+":keep")
			before, err := os.ReadFile(filepath.Join(dst, "index.json"))
			if err != nil {
				t.Fatal(err)
			}
			for _, to := range []string{dst + ":v1", filepath.Join(t.TempDir(), "new") + ":v1", "oci-archive:" + filepath.Join(t.TempDir(), "out.tar")} {
				cmd := exec.Command(bin, "image", "copy", "-q", "oci-archive:"+archive+":v1", to)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Run(); err == nil {
					t.Fatalf("copy of a hostile archive to %s succeeded", to)
				}
				if msg := strings.TrimSpace(stderr.String()); msg == "" || strings.Contains(msg, "\n") {
					t.Fatalf("copy to %s: want one line of error, got %q", to, msg)
				}
				if i := strings.LastIndexByte(to, ':'); !strings.HasPrefix(to, "oci-archive:") && to[:i] != dst {
					if _, err := os.Lstat(to[:i]); err == nil {
						t.Fatalf("a failed copy left %s", to[:i])
					}
				}
				if strings.HasPrefix(to, "oci-archive:") {
					if left, _ := os.ReadDir(filepath.Dir(to[len("oci-archive:"):])); len(left) != 0 {
						t.Fatalf("a failed copy left %v", left)
					}
				}
			}
			after, err := os.ReadFile(filepath.Join(dst, "index.json"))
			if err != nil || !bytes.Equal(before, after) {
				t.Fatalf("destination index.json changed:\n%s\n%s", before, after)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(filepath.Dir(archive)), "escaped")); err == nil {
				t.Fatal("an entry escaped the archive")
			}
		})
	}
}
