package rootfs

import (
	"testing"
	"time"

	"github.com/ocikit/ocikit/runtime/defaults"
)

// BenchmarkPrepareFinish measures Prepare+Finish of the default spec
// (ocikit spec: 7 mounts, default devices, masked and read-only paths, ro
// root) inside the child; "setup-ns/op" excludes starting the child.
func BenchmarkPrepareFinish(b *testing.B) {
	bundle := newBundle(b)
	spec := baseSpec()
	spec.Root.Readonly = true
	spec.Linux.MaskedPaths = defaults.MaskedPaths()
	spec.Linux.ReadonlyPaths = defaults.ReadonlyPaths()
	var total time.Duration
	for b.Loop() {
		rep := runChild(b, &childConfig{Spec: spec, Bundle: bundle})
		if rep.Err != "" {
			b.Fatal(rep.Err)
		}
		total += time.Duration(rep.Nanos)
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "setup-ns/op")
}
