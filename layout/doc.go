// Package layout is ocikit's OCI image-layout store (image-spec
// image-layout.md): a directory holding an oci-layout marker, an index.json
// image index and content-addressed blobs under blobs/<alg>/<encoded>.
//
// What it promises:
//
//   - A blob is visible under its digest only once complete, fsynced and
//     verified (PutBlob); reads verify size and digest (OpenBlob, ReadBlob).
//     sha256 and sha512 are supported; other algorithms are
//     ErrUnsupportedDigest.
//   - index.json changes (UpdateIndex, Tag, Untag) are serialized across
//     goroutines and processes by flock(2) on the layout directory and are
//     atomic: a crash at any moment leaves the old or the new index.json.
//   - Resolve turns a tag or digest into one image manifest and its config,
//     descending nested indexes and choosing a platform.
//   - GC removes exactly the blobs unreachable from index.json, plus stale
//     temporary files, under the exclusive lock.
//   - No input makes it panic; errors wrap the package's sentinels and name
//     the file or object concerned.
//
// A Layout holds no state besides its directory name; every call reads the
// directory afresh. Files it does not know are left alone, as
// image-layout.md asks.
package layout
