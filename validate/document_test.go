package validate

import (
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestDocumentProblems(t *testing.T) {
	sha := "sha256:" + strings.Repeat("a", 64)
	desc := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7,"digest":"` + sha + `"`
	tests := []struct {
		name, mediaType, doc string
		want                 want // zero: the document must be free of problems
	}{
		{"reserved platform features", v1.MediaTypeImageIndex,
			`{"schemaVersion":2,"manifests":[` + desc + `,"platform":{"os":"linux","architecture":"arm64","variant":"v8","features":["sse4"]}}]}`,
			want{sev: Warning, path: "manifests[0].platform.features", msg: "reserved"}},
		{"clean index", v1.MediaTypeImageIndex,
			`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + desc + `,"platform":{"os":"linux","architecture":"arm","variant":"v7"}}]}`,
			want{}},
		{"index mediaType field", v1.MediaTypeImageIndex,
			`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}`,
			want{sev: Error, path: "mediaType", msg: "mediaType field is application/vnd.oci.image.manifest.v1+json, want application/vnd.oci.image.index.v1+json"}},
		{"duplicate label", v1.MediaTypeImageConfig,
			`{"architecture":"amd64","os":"linux","config":{"Labels":{"a":"1","a":"2"}},"rootfs":{"type":"layers","diff_ids":[]}}`,
			want{sev: Error, path: "config.Labels.a", msg: `duplicate key "a"`, clause: "annotations.md#rules"}},
		{"bad diff_id", v1.MediaTypeImageConfig,
			`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:xyz"]}}`,
			want{sev: Error, path: "rootfs.diff_ids[0]", msg: "64 lowercase hex"}},
		{"rootfs type", v1.MediaTypeImageConfig,
			`{"architecture":"amd64","os":"linux","rootfs":{"type":"tarballs","diff_ids":[]}}`,
			want{sev: Error, path: "rootfs.type", msg: `got "tarballs", want "layers"`}},
		{"unknown os", v1.MediaTypeImageConfig,
			`{"architecture":"amd64","os":"beos","rootfs":{"type":"layers","diff_ids":[]}}`,
			want{sev: Warning, path: "os", msg: `os "beos" is not a GOOS value`}},
		{"created not RFC 3339", v1.MediaTypeImageConfig,
			`{"created":"yesterday","architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`,
			want{sev: Error, path: "created", msg: "is not valid date-time"}},
		{"created bare date", v1.MediaTypeImageConfig,
			`{"created":"2015-10-31","architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`,
			want{sev: Error, path: "created", msg: "'2015-10-31' is not valid date-time"}},
		{"history created time of day", v1.MediaTypeImageConfig,
			`{"architecture":"amd64","os":"linux","history":[{"created":"15:04:05"}],"rootfs":{"type":"layers","diff_ids":[]}}`,
			want{sev: Error, path: "history[0].created", msg: "'15:04:05' is not valid date-time"}},
		{"missing properties on one line", v1.MediaTypeDescriptor,
			`{"mediaType":"a/b"}`,
			want{sev: Error, path: "", msg: "missing properties 'size', 'digest'"}},
		{"bad sha512 encoding", v1.MediaTypeDescriptor,
			`{"mediaType":"a/b","size":1,"digest":"sha512:abc"}`,
			want{sev: Error, path: "digest", msg: "128 lowercase hex", clause: "descriptor.md#sha-512"}},
		{"negative size", v1.MediaTypeDescriptor,
			`{"mediaType":"a/b","size":-1,"digest":"` + sha + `"}`,
			want{sev: Error, path: "size", msg: "negative"}},
		{"data digest", v1.MediaTypeDescriptor,
			`{"mediaType":"a/b","size":2,"digest":"` + sha + `","data":"e30="}`,
			want{sev: Error, path: "data", msg: "data hashes to sha256:44136fa3"}},
		{"empty descriptor size", v1.MediaTypeDescriptor,
			`{"mediaType":"application/vnd.oci.empty.v1+json","size":3,"digest":"` + sha + `"}`,
			want{sev: Warning, path: "size", msg: "empty descriptor has size 3"}},
		{"non-http url", v1.MediaTypeDescriptor,
			`{"mediaType":"a/b","size":1,"digest":"` + sha + `","urls":["ftp://example.com/x"]}`,
			want{sev: Warning, path: "urls[0]", msg: "SHOULD use http or https"}},
		{"unknown layer type in an image", v1.MediaTypeImageManifest,
			`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + strings.Replace(desc, "manifest.v1", "config.v1", 1) + `},"layers":[{"mediaType":"application/x-tar","size":1,"digest":"` + sha + `"}]}`,
			want{sev: Warning, path: "layers[0].mediaType", msg: "not a layer type runtimes unpack"}},
		{"artifact layers are free", v1.MediaTypeImageManifest,
			`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example","config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","data":"e30="},"layers":[{"mediaType":"application/x-tar","size":1,"digest":"` + sha + `"}]}`,
			want{}},
		{"trailing data", v1.MediaTypeImageIndex,
			`{"schemaVersion":2,"manifests":[]} {}`,
			want{sev: Error, msg: "data after the top-level value at line 1, column 36"}},
		{"unknown media type", "application/xml", `{}`,
			want{sev: Error, msg: `no validation defined for media type "application/xml"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Document(tt.mediaType, []byte(tt.doc))
			for _, p := range r.Problems {
				t.Logf("%s: %v", p.Severity, p)
			}
			if tt.want == (want{}) {
				if len(r.Problems) != 0 {
					t.Fatalf("want no problems, got %d", len(r.Problems))
				}
				return
			}
			found := false
			for _, p := range r.Problems {
				if tt.want.matches(p) {
					found = true
				} else if p.Severity == Error {
					t.Errorf("unexpected error %v", p)
				}
			}
			if !found {
				t.Errorf("missing %+v", tt.want)
			}
		})
	}
}

func TestValidRefName(t *testing.T) {
	for name, ok := range map[string]bool{
		"latest": true, "v1.0.0-vendor.0": true, "2.0.0-debug": true, "example.test/library/busybox:1.36": true,
		"a--b": true, "a@b+c": true, "": false, "-a": false, "a-": false, "a//b": false, "a b": false, "a---b": false,
	} {
		if got := ValidRefName(name); got != ok {
			t.Errorf("ValidRefName(%q) = %v, want %v", name, got, ok)
		}
	}
}
