package repack

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func sampleSnapshot() *Snapshot {
	return &Snapshot{
		Layout: "/var/lib/images",
		Source: v1.Descriptor{
			MediaType:   v1.MediaTypeImageManifest,
			Digest:      "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
			Size:        528,
			Annotations: map[string]string{v1.AnnotationRefName: "latest"},
		},
		Entries: []Entry{
			{Path: "bin", Mode: 0o40755, Size: 4096, Mtime: 1, Ctime: 2, Ino: 10},
			{Path: "bin/busybox", Mode: 0o100755, Size: 1 << 20, Mtime: -5, Ctime: 1700000000123456789, Ino: 11, Btime: 1600000000000000001},
			{Path: "bin/sh", Mode: 0o120777, Size: 7, Ino: 12, Link: "busybox"},
			{Path: "dev/null", Mode: 0o20666, Ino: 13, Rdev: 259, UID: 65534, GID: 4294967295},
			{Path: "etc/passwd", Mode: 0o100644, Ino: 14, Xattrs: map[string]string{"user.a": "1", "security.capability": "\x00\x01\xff"}},
		},
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		s    *Snapshot
	}{
		{"sample", sampleSnapshot()},
		{"empty", &Snapshot{Layout: "x", Entries: []Entry{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := tt.s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got Snapshot
			if err := got.UnmarshalBinary(data); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&got, tt.s) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, *tt.s)
			}
		})
	}
}

func TestSnapshotCorrupt(t *testing.T) {
	good, err := sampleSnapshot().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 1
	badPath := &Snapshot{Entries: []Entry{{Path: "../etc/shadow"}}}
	badPathData, _ := badPath.MarshalBinary()
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"json", []byte(`{"layout":"x"}`)},
		{"truncated", good[:len(good)-10]},
		{"bit flip", flip},
		{"version", append([]byte(snapshotMagic+"\x07"), good[len(snapshotMagic)+1:]...)},
		{"escaping path", badPathData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Snapshot
			if err := s.UnmarshalBinary(tt.data); !errors.Is(err, ErrBadSnapshot) {
				t.Errorf("err %v, want ErrBadSnapshot", err)
			}
		})
	}
}

// FuzzSnapshot decodes arbitrary bytes: no panic, and whatever decodes
// re-encodes to something that decodes to the same snapshot.
func FuzzSnapshot(f *testing.F) {
	good, _ := sampleSnapshot().MarshalBinary()
	f.Add(good)
	empty, _ := (&Snapshot{}).MarshalBinary()
	f.Add(empty)
	f.Add([]byte(snapshotMagic + "\x01"))
	f.Add(good[:len(good)-4])
	f.Fuzz(func(t *testing.T, data []byte) {
		// Also try the input with a valid checksum appended, so mutations
		// reach the decoder behind the CRC check.
		for _, d := range [][]byte{data, binary.LittleEndian.AppendUint32(data, crc32.Checksum(data, castagnoli))} {
			fuzzOne(t, d)
		}
	})
}

func fuzzOne(t *testing.T, data []byte) {
	{
		var s Snapshot
		if err := s.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var s2 Snapshot
		if err := s2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatal("snapshot changed through a round trip")
		}
	}
}
