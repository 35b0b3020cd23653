package rootfs

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ocikit/ocikit/runtime/defaults"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkPrepareFinish measures Prepare+Finish inside the child;
// "setup-ns/op" excludes starting the child. "default" is the spec of
// `ocikit spec` (7 mounts, default devices, masked and read-only paths, ro
// root); "200mounts" adds 100 tmpfs and 100 read-only binds.
func BenchmarkPrepareFinish(b *testing.B) {
	for _, n := range []int{0, 100} {
		name := "default"
		if n > 0 {
			name = strconv.Itoa(2*n) + "mounts"
		}
		b.Run(name, func(b *testing.B) {
			bundle := newBundle(b)
			if err := os.WriteFile(filepath.Join(bundle, "data"), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
			spec := baseSpec()
			spec.Root.Readonly = true
			spec.Linux.MaskedPaths = defaults.MaskedPaths()
			spec.Linux.ReadonlyPaths = defaults.ReadonlyPaths()
			for i := range n {
				spec.Mounts = append(spec.Mounts,
					specs.Mount{Destination: "/t/" + strconv.Itoa(i), Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=1m"}},
					specs.Mount{Destination: "/b/" + strconv.Itoa(i), Type: "bind", Source: "data", Options: []string{"rbind", "ro", "nosuid"}})
			}
			var total time.Duration
			for b.Loop() {
				rep := runChild(b, &childConfig{Spec: spec, Bundle: bundle})
				if rep.Err != "" {
					b.Fatal(rep.Err)
				}
				total += time.Duration(rep.Nanos)
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "setup-ns/op")
		})
	}
}
