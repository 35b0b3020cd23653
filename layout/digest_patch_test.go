package layout

import (
	"errors"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// go-digest is built from third_party/go-digest, patched so that no regexp
// compiles at package initialization: its validation must accept and
// refuse what upstream's expressions did.
func TestDigestValidatePatched(t *testing.T) {
	hex64 := strings.Repeat("a1", 32)
	tests := []struct {
		d    string
		want error
	}{
		{"sha256:" + hex64, nil},
		{"sha512:" + strings.Repeat("0f", 64), nil},
		{"sha384:" + strings.Repeat("9e", 48), nil},
		{"sha256:" + strings.ToUpper(hex64), digest.ErrDigestInvalidFormat},
		{"sha256:" + hex64[:63] + "g", digest.ErrDigestInvalidFormat},
		{"sha256:" + hex64[:62], digest.ErrDigestInvalidLength},
		{"sha256:", digest.ErrDigestInvalidFormat},
		{":" + hex64, digest.ErrDigestInvalidFormat},
		{"md5:d41d8cd98f00b204e9800998ecf8427e", digest.ErrDigestUnsupported},
		{"foo.bar+baz:Zm9v_=-", digest.ErrDigestUnsupported},
		{"Foo:abc", digest.ErrDigestInvalidFormat},
		{"foo..bar:abc", digest.ErrDigestInvalidFormat},
		{"foo:a b", digest.ErrDigestInvalidFormat},
	}
	for _, tt := range tests {
		if err := digest.Digest(tt.d).Validate(); !errors.Is(err, tt.want) {
			t.Errorf("Validate(%q) = %v, want %v", tt.d, err, tt.want)
		}
	}
}
