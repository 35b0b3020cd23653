//go:build tools

// Package cri pins the CRI tools the CRI harness builds from
// sigs.k8s.io/cri-tools: crictl, and critest, which is the test binary of
// cmd/critest (`go test -c`), so its test imports are pinned here too. A
// module of its own, so that ocikit's go.mod stays free of Kubernetes; see
// critest.sh.
package cri

import (
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
	_ "sigs.k8s.io/cri-tools/pkg/benchmark"
	_ "sigs.k8s.io/cri-tools/pkg/common"
	_ "sigs.k8s.io/cri-tools/pkg/framework"
	_ "sigs.k8s.io/cri-tools/pkg/validate"
	_ "sigs.k8s.io/cri-tools/pkg/version"
)
