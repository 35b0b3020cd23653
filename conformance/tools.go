//go:build tools

// Package conformance pins the runtime-tools validation suite the harness
// builds; see run.sh.
package conformance

import (
	_ "github.com/opencontainers/runtime-tools/cmd/runtimetest"
	_ "github.com/opencontainers/runtime-tools/validation/util"
)
