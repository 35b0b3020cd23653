package layer

import (
	"archive/tar"
	"encoding/base64"
	"sort"
	"testing"
)

func TestEntryXattrs(t *testing.T) {
	hdr := &tar.Header{PAXRecords: map[string]string{
		"SCHILY.xattr.user.a":                     "1",
		"SCHILY.xattr.security.capability":        "\x01\x02",
		"LIBARCHIVE.xattr.user.b%20c":             base64.StdEncoding.EncodeToString([]byte("2")),
		"LIBARCHIVE.xattr.user.a":                 base64.StdEncoding.EncodeToString([]byte("loses to SCHILY")),
		"LIBARCHIVE.xattr.user.bad":               "!!not base64",
		"SCHILY.xattr.":                           "no name",
		"path":                                    "ignored",
		"LIBARCHIVE.xattr.trusted.overlay.opaque": base64.StdEncoding.EncodeToString([]byte("y")),
	}}
	got := map[string]string{}
	for _, x := range entryXattrs(nil, hdr) {
		if _, dup := got[x.name]; dup {
			t.Errorf("xattr %s twice", x.name)
		}
		got[x.name] = string(x.value)
	}
	want := map[string]string{"user.a": "1", "security.capability": "\x01\x02", "user.b c": "2", "trusted.overlay.opaque": "y"}
	var names []string
	for k := range got {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(got) != len(want) {
		t.Errorf("got xattrs %v, want %v", names, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if x := entryXattrs(nil, &tar.Header{}); len(x) != 0 {
		t.Errorf("no PAX records: %v", x)
	}
}
