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
//   - A blob file is never changed in place, only created whole and
//     removed, so layouts may share one by hard link (LinkBlob, which a
//     registry's cross-repository mount uses).
//   - No input makes it panic; errors wrap the package's sentinels and name
//     the file or object concerned.
//
// A Layout holds no state besides its directory name; every call reads the
// directory afresh. Files it does not know are left alone, as
// image-layout.md asks.
//
// Locking: the lock is flock(2) on the layout directory itself, so no lock
// file appears in the layout. It serializes this package's writers on a
// local file system; other tools (umoci, skopeo) do not take it. Blob
// writes take it only briefly (shared) to create their temporary file, so
// a writer that stores blobs and tags them later can race a GC in
// between: give GC a grace period (GCGracePeriod) when writers may be
// running. LockShared takes the readers' side for code that reads a
// layout's files without Open (package validate).
//
// References: ParseReference reads "DIR", "DIR:TAG" and "DIR@DIGEST"; see
// its documentation for how a ':' or '@' inside DIR is handled.
package layout
