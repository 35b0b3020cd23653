package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
	"github.com/ocikit/ocikit/validate"
)

// TestValidateConfigCLI runs `ocikit validate-config` on the bundle `ocikit
// spec` writes, before and after its rootfs exists, and on a broken config.
func TestValidateConfigCLI(t *testing.T) {
	bin := testutil.Binary(t)
	dir := t.TempDir()
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout = &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	}
	if out, code := run("spec"); code != 0 {
		t.Fatalf("ocikit spec: exit %d %s", code, out)
	}
	out, code := run("validate-config", ".")
	if code != 1 || !strings.Contains(out, "error: config.json → root.path: root.path rootfs: no such file or directory (config.md#configRoot)") {
		t.Fatalf("bundle without rootfs: exit %d\n%s", code, out)
	}
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, code := run("validate-config", "."); code != 0 || strings.TrimSpace(out) != ".: valid" {
		t.Fatalf("bundle: exit %d\n%s", code, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	broken := bytes.Replace(data, []byte(`"cwd": "/"`), []byte(`"cwd": "relative"`), 1)
	if bytes.Equal(broken, data) {
		t.Fatalf("ocikit spec wrote no \"cwd\": \"/\":\n%s", data)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), broken, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = run("validate-config", "--json", "broken.json")
	var rep validate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Errors != 1 || rep.Problems[0].Path != "config.json → process.cwd" {
		t.Fatalf("broken config: exit %d, err %v, report %+v", code, err, rep)
	}
}
