// Package server is ocikit's registry server: the distribution-spec v1.1
// HTTP API (pull, push, content discovery, content management) over a
// directory of OCI image layouts. Repository a/b is the layout ROOT/a/b, so
// existing layouts are published as they are and a push lands as an
// ordinary layout that package layout (and the rest of ocikit) reads.
//
// What it promises:
//
//   - Nothing unverified becomes visible: an upload session writes to a
//     temporary file under ROOT/.uploads (outside every layout, so a
//     layout's readers and GC never see it); only a completed upload whose
//     content matches the client's digest is stored, through
//     layout.PutBlob. A crash leaves at most temporary files, which the
//     next start removes.
//   - Concurrent pushes lose nothing: index.json changes go through
//     layout.UpdateIndex (flock on the layout directory, atomic write).
//   - Every manifest pushed is an index.json entry: by tag with the
//     org.opencontainers.image.ref.name annotation, by digest as an
//     untagged entry, so GC keeps it and the referrers API finds it.
//     Deleting a tag keeps its manifest (as an untagged entry); deleting a
//     manifest by digest removes its entries and its blob.
//   - Errors are the spec's JSON error bodies (specs-go ErrorResponse)
//     with the spec's codes; no file system path reaches a client.
//   - Repository names are checked against the spec's regular expression
//     (compiled on first use), so no name leaves ROOT; a repository may not
//     lie inside another layout's directory.
//
// Blobs are sent as they are stored, with Range support and sendfile(2):
// they were verified when they entered the layout, and clients verify what
// they pull (spec: "Clients SHOULD verify"). Manifests are read verified.
package server
