//go:build linux && cgo

package nsenter_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ocikit/ocikit/runtime/nsenter"
	"github.com/ocikit/ocikit/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSeccompHeader: the C create finds the program the Go command
// compiled for a linux.seccomp only if it writes the configuration's JSON
// byte for byte as encoding/json does (seccomp.CEntry); where it cannot,
// it says so and the create is Go's.
func TestSeccompHeader(t *testing.T) {
	podman, err := os.ReadFile(filepath.Join("testdata", "podman-seccomp.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, js string
		c        bool // the C create takes it
	}{
		{"allow", `{"defaultAction":"SCMP_ACT_ALLOW"}`, true},
		{"podman's profile", string(podman), true},
		{"member order and spaces", `{ "syscalls": [ {"action": "SCMP_ACT_ERRNO", "names": ["acct"]} ], "defaultAction": "SCMP_ACT_ALLOW" }`, true},
		{"errno values", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":0,"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","errnoRet":38}]}`, true},
		{"nulls and empties", `{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":null,"architectures":[],"flags":null,"syscalls":[{"names":null,"action":"SCMP_ACT_ERRNO","args":[]},{"names":[],"action":"SCMP_ACT_ERRNO","args":null}]}`, true},
		{"missing members", `{"syscalls":[{"args":[{}]}]}`, true},
		{"arguments", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":8,"valueTwo":0,"op":"SCMP_CMP_EQ"},{"index":1,"value":9223372036854775807,"valueTwo":255,"op":"SCMP_CMP_MASKED_EQ"}]}]}`, true},
		{"unknown member", `{"defaultAction":"SCMP_ACT_ALLOW","comment":"ignored by both"}`, true},
		{"empty listener", `{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":""}`, true},
		{"listener", `{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock"}`, false},
		{"listener metadata", `{"defaultAction":"SCMP_ACT_ALLOW","listenerMetadata":"x"}`, false},
		{"escaped string", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a<b"],"action":"SCMP_ACT_ERRNO"}]}`, false},
		{"member in another case", `{"DefaultAction":"SCMP_ACT_ALLOW"}`, false},
		{"negative errno", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":-1}`, false},
		{"real number", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":1.0,"op":"SCMP_CMP_EQ"}]}]}`, false},
		{"null name", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[null],"action":"SCMP_ACT_ERRNO"}]}`, false},
		{"null rule", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[null]}`, false},
		{"not an object", `[]`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := nsenter.SeccompHeader([]byte(c.js))
			if ok != c.c {
				t.Fatalf("C create takes it: %v, want %v (header %q)", ok, c.c, got)
			}
			if !ok {
				return
			}
			var cfg specs.LinuxSeccomp
			if err := json.Unmarshal([]byte(c.js), &cfg); err != nil {
				t.Fatal(err)
			}
			_, want := seccomp.CEntry(&cfg)
			if !bytes.Equal(got, want) {
				t.Errorf("C header:\n%q\nGo's:\n%q", got, want)
			}
		})
	}
}
