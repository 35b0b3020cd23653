// Package dockerarchive reads and writes docker archives: the tar that
// `docker save` writes and `docker load` and `podman load` read
// (skopeo's docker-archive: transport). A manifest.json lists the images,
// each with its config file, its layer tars (uncompressed) and its
// RepoTags; the files live either in the legacy layout (`<id>/layer.tar`,
// `<id>.json`, layers shared through symbolic links between entries) or,
// as docker 25 and later write them, under blobs/sha256/ beside an OCI
// index.json.
//
// Reading (Open) treats the archive as untrusted; a gzip or zstd
// compressed one (`docker save | gzip`, which docker load reads too) is
// read through its decompressor, its tar capped at the blob cap. Open
// extracts it once into
// a temporary OCI layout, removed by Close: every regular file is stored
// under the sha256 of its content (hashed while it is written), links are
// kept as aliases between entry names and never created on disk. Refused
// (errdefs.ErrInvalid, or errdefs.ErrDigestMismatch for content), leaving
// nothing behind: names that are absolute or climb out with "..", links
// whose target leaves the archive, devices, duplicate names, a
// manifest.json over MaxManifestSize or malformed, a file it names that is
// missing, a layer whose digest is not the config's diff_id, a truncated
// tar. Each image of manifest.json is presented as an OCI image: the
// manifest an OCI index.json in the archive has for its config when there
// is one (docker 25), else one made here listing the layer tars as
// application/vnd.oci.image.layer.v1.tar with the digests they have, and
// the config as it is. Its RepoTags are its tags; "@N" names the N-th
// image (from 0), as in skopeo.
//
// Writing (Create) stages blobs in a temporary layout, decompressing gzip
// and zstd layers while they stream in, and Commit writes the archive
// (uncompressed layers `<diff_id>.tar`, the config `<digest>.json`,
// manifest.json; the layout skopeo and podman write) to a temporary file
// beside FILE, fsynced and renamed over it.
package dockerarchive
