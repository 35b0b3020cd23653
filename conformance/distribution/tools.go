//go:build tools

// Package distribution pins the distribution-spec conformance suite that
// run.sh builds; see run.sh.
package distribution

import (
	_ "github.com/opencontainers/distribution-spec/conformance"
)
