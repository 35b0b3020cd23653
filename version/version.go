// Package version reports the ocikit release and the specification versions
// it implements.
package version

import (
	"runtime/debug"

	imagespec "github.com/opencontainers/image-spec/specs-go"
	runtimespec "github.com/opencontainers/runtime-spec/specs-go"
)

// Version and Commit are set at link time by the Makefile
// (-X github.com/ocikit/ocikit/version.Version=...).
var (
	Version = "0.1.0-dev"
	Commit  = ""
)

// Info describes this build.
type Info struct {
	Version     string `json:"version"`
	Commit      string `json:"commit,omitempty"`
	GoVersion   string `json:"goVersion"`
	RuntimeSpec string `json:"runtimeSpec"`
	ImageSpec   string `json:"imageSpec"`
}

// Get returns the build information. When Commit was not set at link time it
// falls back to the VCS revision recorded by the Go toolchain, if any.
func Get() Info {
	info := Info{
		Version:     Version,
		Commit:      Commit,
		RuntimeSpec: runtimespec.Version,
		ImageSpec:   imagespec.Version,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info.GoVersion = bi.GoVersion
		if info.Commit == "" {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					info.Commit = s.Value
				}
			}
		}
	}
	return info
}
