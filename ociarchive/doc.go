// Package ociarchive reads and writes OCI archives: a tar of an OCI image
// layout (image-layout.md), as `skopeo copy ... oci-archive:FILE` and
// `podman save --format oci-archive` write them.
//
// Reading (Open) extracts the archive once into a temporary image layout,
// removed by Close, and serves it through package layout: a tar is not
// seekable by name, and extracting lets the archive reuse the layout's
// verified reads, Lookup and platform choice instead of a second copy of
// them. Blobs are extracted raw and verified when read (OpenBlob checks
// size and digest as it streams, as the layout does), so each byte is
// hashed once, by whoever reads it. What extraction refuses
// (errdefs.ErrInvalid), before writing anything outside the temporary
// directory: entries that would escape (absolute names, "..", links of
// any kind, devices), blob entries whose name is not a digest, duplicate
// or oversized index.json and oci-layout, blobs over the size cap, a
// truncated tar.
//
// Writing (Create) stages blobs in a temporary layout (so PutBlob verifies
// and nothing unverified is visible), and Commit writes the tar of it to a
// temporary file beside FILE, fsyncs it and renames it over FILE: readers
// of FILE see the old archive or the whole new one, never a part.
package ociarchive
