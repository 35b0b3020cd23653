package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/internal/testutil"
)

// Every runtime command and every container init is a fresh ocikit
// process that runs every linked package's initialisation first: a page
// faulted in there costs ~11 us on the machines this was measured on, and
// its memory is charged to the container for an init. These tests keep
// the dependencies that made that start slow from coming back.

// heavyInit are modules whose packages compile regular expressions,
// schemas or tables at package initialisation, each with what replaced it.
var heavyInit = map[string]string{
	"github.com/xeipuuv/gojsonschema":             "internal/jsonschema",
	"github.com/santhosh-tekuri/jsonschema":       "internal/jsonschema",
	"github.com/vbauerster/mpb":                   "internal/progress's own bars",
	"github.com/acarl005/stripansi":               "internal/progress's own bars",
	"github.com/mattn/go-runewidth":               "internal/progress's own bars",
	"github.com/opencontainers/image-spec/schema": "validate's embedded schemas",
}

func TestNoHeavyInitDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "netgo,osusergo", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for mod, instead := range heavyInit {
			if pkg == mod || strings.HasPrefix(pkg, mod+"/") {
				t.Errorf("ocikit links %s, whose package init runs in every process; use %s", pkg, instead)
			}
		}
	}
}

// initBudget is the heap all package initialisation may allocate
// (GODEBUG=inittrace=1): 236 KB when it was set, of which
// opencontainers/go-digest's regular expressions are 92 KB; 375 KB before
// gojsonschema and mpb went.
const initBudget = 300 << 10

func TestInitHeapBudget(t *testing.T) {
	cmd := exec.Command(testutil.Binary(t), "--version")
	cmd.Env = append(cmd.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ocikit --version: %v: %s", err, stderr.String())
	}
	// init PKG @T ms, C ms clock, B bytes, A allocs
	total, n := 0, 0
	type pkg struct {
		name  string
		bytes int
	}
	var top pkg
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		b, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("inittrace line %q: %v", sc.Text(), err)
		}
		total += b
		n++
		if b > top.bytes {
			top = pkg{f[1], b}
		}
	}
	if n == 0 {
		t.Fatal("no inittrace lines")
	}
	t.Logf("%d packages allocate %d bytes at init; most: %s, %d bytes", n, total, top.name, top.bytes)
	if total > initBudget {
		t.Errorf("package initialisation allocates %d bytes, over the budget of %d (largest: %s, %d bytes)", total, initBudget, top.name, top.bytes)
	}
}
