package distribution

import (
	"errors"
	"strings"
	"testing"

	"github.com/ocikit/ocikit/errdefs"
)

const dgst = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

func TestParseReference(t *testing.T) {
	tests := []struct {
		in   string
		want Reference
		kind error
		msg  string // part of the error's text
	}{
		{in: "oci:dir", want: Reference{Transport: "oci", Path: "dir"}},
		{in: "oci:dir:v1", want: Reference{Transport: "oci", Path: "dir", Tag: "v1"}},
		{in: "oci:/abs/dir:v1.0:debug", want: Reference{Transport: "oci", Path: "/abs/dir", Tag: "v1.0:debug"}},
		{in: "oci:dir@" + dgst, want: Reference{Transport: "oci", Path: "dir", Digest: dgst}},
		{in: "dir", want: Reference{Transport: "oci", Path: "dir"}},
		{in: "img:v1", want: Reference{Transport: "oci", Path: "img", Tag: "v1"}},
		{in: "./dir:v1", want: Reference{Transport: "oci", Path: "./dir", Tag: "v1"}}, // a directory named like a transport
		{in: "./d/e:latest", want: Reference{Transport: "oci", Path: "./d/e", Tag: "latest"}},
		{in: "dir@" + dgst, want: Reference{Transport: "oci", Path: "dir", Digest: dgst}},
		{in: "oci-archive:img.tar", want: Reference{Transport: "oci-archive", Path: "img.tar"}},
		{in: "oci-archive:/tmp/img.tar:v2", want: Reference{Transport: "oci-archive", Path: "/tmp/img.tar", Tag: "v2"}},
		{in: "oci-archive:img.tar:a/b:c", want: Reference{Transport: "oci-archive", Path: "img.tar", Tag: "a/b:c"}},
		{in: "docker-archive:img.tar", want: Reference{Transport: "docker-archive", Path: "img.tar"}},
		{in: "docker-archive:img.tar:app", want: Reference{Transport: "docker-archive", Path: "img.tar", Tag: "app:latest"}},
		{in: "docker-archive:/t/img.tar:localhost:5000/a/b:v1", want: Reference{Transport: "docker-archive", Path: "/t/img.tar", Tag: "localhost:5000/a/b:v1"}},
		{in: "docker-archive:img.tar:@2", want: Reference{Transport: "docker-archive", Path: "img.tar", Tag: "@2"}},
		{in: "docker-archive:", kind: errdefs.ErrInvalid},
		{in: "docker-archive::app", kind: errdefs.ErrInvalid},
		{in: "docker-archive:f.tar:", kind: errdefs.ErrInvalid},
		{in: "docker-archive:f.tar:App", kind: errdefs.ErrInvalid},
		{in: "docker-archive:f.tar:@-1", kind: errdefs.ErrInvalid},
		{in: "docker-archive:f.tar:@x", kind: errdefs.ErrInvalid},
		{in: "docker-archive:f.tar:app@" + dgst, kind: errdefs.ErrInvalid},
		{in: "", kind: errdefs.ErrInvalid},
		{in: "oci:", kind: errdefs.ErrInvalid},
		{in: "oci::v1", kind: errdefs.ErrInvalid},
		{in: "oci:dir:bad tag", kind: errdefs.ErrInvalid},
		{in: "oci:dir@sha256:xyz", kind: errdefs.ErrInvalid},
		{in: "oci-archive:", kind: errdefs.ErrInvalid},
		{in: "oci-archive::v1", kind: errdefs.ErrInvalid},
		{in: "oci-archive:f.tar:", kind: errdefs.ErrInvalid},
		{in: "oci-archive:f.tar:-x", kind: errdefs.ErrInvalid},
		{in: "docker://host:5000/repo:tag", want: Reference{Transport: "docker", Path: "host:5000/repo", Tag: "tag"}},
		{in: "docker://localhost/a/b", want: Reference{Transport: "docker", Path: "localhost/a/b"}},
		{in: "docker://reg.example/a/b-c_d:v1.0", want: Reference{Transport: "docker", Path: "reg.example/a/b-c_d", Tag: "v1.0"}},
		{in: "docker://127.0.0.1:5000/r@" + dgst, want: Reference{Transport: "docker", Path: "127.0.0.1:5000/r", Digest: dgst}},
		{in: "docker://[::1]:5000/r:t", want: Reference{Transport: "docker", Path: "[::1]:5000/r", Tag: "t"}},
		{in: "docker://library/busybox", kind: errdefs.ErrInvalid}, // no registry named
		{in: "docker://h.example", kind: errdefs.ErrInvalid},
		{in: "docker://h.example/", kind: errdefs.ErrInvalid},
		{in: "docker://h.example/Upper", kind: errdefs.ErrInvalid},
		{in: "docker://h.example/r:bad/tag", kind: errdefs.ErrInvalid},
		{in: "docker://h.example/r:", kind: errdefs.ErrInvalid},
		{in: "docker://h.example/r:t@" + dgst, kind: errdefs.ErrInvalid},
		{in: "docker://h.example/r@sha256:xyz", kind: errdefs.ErrInvalid},
		{in: "docker://h.example:0/r", kind: errdefs.ErrInvalid},
		{in: "docker://h.example:99999/r", kind: errdefs.ErrInvalid},
		{in: "docker://-h.example/r", kind: errdefs.ErrInvalid},
		{in: "docker:h.example/r", kind: errdefs.ErrInvalid},
		{in: "containers-storage:img", kind: errdefs.ErrUnsupported},
		{in: "dir:/x", kind: errdefs.ErrUnsupported},
		{in: "https://h.example/r:t", kind: errdefs.ErrInvalid, msg: `unknown transport "https"`},
		{in: "bogus://x", kind: errdefs.ErrInvalid, msg: `unknown transport "bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseReference(tt.in)
			if tt.kind != nil {
				if !errors.Is(err, tt.kind) {
					t.Fatalf("ParseReference(%q) = %+v, %v; want kind %v", tt.in, got, err, tt.kind)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error is not one line: %q", err)
				}
				if !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("ParseReference(%q): %v; want it to say %s", tt.in, err, tt.msg)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseReference(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			back, err := ParseReference(got.String())
			if err != nil || back != got {
				t.Fatalf("round trip %q -> %q -> %+v, %v", tt.in, got.String(), back, err)
			}
		})
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"oci:dir:v1", "img", "oci-archive:f.tar:v1", "dir@" + dgst, "docker://h/r:t", "docker://h.example:5000/a/b:t", "docker://[::1]/r@" + dgst, "oci:a@b/:c", "oci-archive:a:b@c", "docker-archive:f.tar:a/b:c", "docker-archive:f:@0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) && !errors.Is(err, errdefs.ErrUnsupported) {
				t.Fatalf("ParseReference(%q): error of no kind: %v", s, err)
			}
			return
		}
		if r.Path == "" || (r.Tag != "" && r.Digest != "") {
			t.Fatalf("ParseReference(%q) = %+v", s, r)
		}
		back, err := ParseReference(r.String())
		if err != nil || back != r {
			t.Fatalf("round trip %q -> %q -> %+v, %v (want %+v)", s, r.String(), back, err, r)
		}
	})
}
