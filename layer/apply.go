package layer

import (
	"archive/tar"
	"encoding/base64"
	"net/url"
	"strings"
)

// PAX record prefixes carrying extended attributes: GNU tar and Go write
// SCHILY.xattr.NAME=VALUE; bsdtar writes LIBARCHIVE.xattr.NAME with NAME
// URL-encoded and VALUE base64-encoded.
const (
	paxSchilyXattr     = "SCHILY.xattr."
	paxLibarchiveXattr = "LIBARCHIVE.xattr."
)

type xattr struct {
	name  string
	value []byte
}

// entryXattrs appends the extended attributes of hdr to dst. A SCHILY
// record wins over a LIBARCHIVE record for the same name.
func entryXattrs(dst []xattr, hdr *tar.Header) []xattr {
	if len(hdr.PAXRecords) == 0 {
		return dst
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxSchilyXattr); ok && name != "" {
			dst = append(dst, xattr{name: name, value: []byte(v)})
		}
	}
	for k, v := range hdr.PAXRecords {
		enc, ok := strings.CutPrefix(k, paxLibarchiveXattr)
		if !ok {
			continue
		}
		name, err := url.PathUnescape(enc)
		if err != nil || name == "" {
			continue
		}
		if _, dup := hdr.PAXRecords[paxSchilyXattr+name]; dup {
			continue
		}
		val, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			continue
		}
		dst = append(dst, xattr{name: name, value: val})
	}
	return dst
}
