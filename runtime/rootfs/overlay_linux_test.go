package rootfs

import (
	"slices"
	"testing"
)

func TestSplitEscaped(t *testing.T) {
	tests := []struct {
		in   string
		sep  byte
		want []string
	}{
		{"lowerdir=/a:/b,upperdir=/u,workdir=/w,index=off", ',', []string{"lowerdir=/a:/b", "upperdir=/u", "workdir=/w", "index=off"}},
		{`/a\:x:/b\,y:/c\\`, ':', []string{`/a\:x`, `/b\,y`, `/c\\`}},
		{`upperdir=/u\,v,workdir=/w`, ',', []string{`upperdir=/u\,v`, "workdir=/w"}},
		{"", ',', []string{""}},
	}
	for _, tt := range tests {
		if got := splitEscaped(tt.in, tt.sep); !slices.Equal(got, tt.want) {
			t.Errorf("splitEscaped(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for in, want := range map[string]string{`/a\:x`: "/a:x", `/b\,y`: "/b,y", `/c\\`: `/c\`, "/plain": "/plain"} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
