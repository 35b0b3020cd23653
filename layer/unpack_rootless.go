package layer

// rootlessXattr is the xattr in which rootless unpacking records the owner it
// could not set (https://rootlesscontaine.rs, rootless-containers/proto).
const rootlessXattr = "user.rootlesscontainers"

// rootlessNoopID in the payload means "this id is unchanged" (root).
const rootlessNoopID = 0xFFFFFFFF

// rootlessPayload encodes the rootless-containers protobuf message
//
//	message Resource { uint32 uid = 1; uint32 gid = 2; }
//
// for an in-image owner, as umoci does: an id of 0 is written as NoopID,
// and an owner of 0:0 needs no xattr at all (ok is false). Both fields are
// then non-zero, so proto3 writes both: tag, varint; tag, varint.
func rootlessPayload(uid, gid int) (payload []byte, ok bool) {
	if uid == 0 && gid == 0 {
		return nil, false
	}
	u, g := uint32(rootlessNoopID), uint32(rootlessNoopID)
	if uid != 0 {
		u = uint32(uid)
	}
	if gid != 0 {
		g = uint32(gid)
	}
	b := make([]byte, 0, 12)
	b = append(b, 1<<3|0) // field 1, wire type varint
	b = appendVarint(b, uint64(u))
	b = append(b, 2<<3|0) // field 2, wire type varint
	b = appendVarint(b, uint64(g))
	return b, true
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// parseRootlessPayload decodes what rootlessPayload encodes (for tests and
// for callers that read a rootless tree back); unknown fields are skipped.
func parseRootlessPayload(b []byte) (uid, gid uint32, ok bool) {
	uid, gid = rootlessNoopID, rootlessNoopID
	for len(b) > 0 {
		key, n := readVarint(b)
		if n == 0 {
			return 0, 0, false
		}
		b = b[n:]
		if key&7 != 0 {
			return 0, 0, false
		}
		v, n := readVarint(b)
		if n == 0 {
			return 0, 0, false
		}
		b = b[n:]
		switch key >> 3 {
		case 1:
			uid = uint32(v)
		case 2:
			gid = uint32(v)
		}
	}
	return uid, gid, true
}

func readVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}
