// Package distribution copies images between the places they live, named
// by transport references in skopeo's syntax (ParseReference): registries
// ("docker://HOST[:PORT]/REPO[:TAG|@DIGEST]", through package registry),
// OCI image layouts ("oci:DIR[:TAG]", or plain "DIR[:TAG]"), OCI archives
// ("oci-archive:FILE[:TAG]") and docker archives
// ("docker-archive:FILE[:NAME[:TAG]]", package dockerarchive); skopeo's
// other transports are refused as errdefs.ErrUnsupported.
//
// Copy reads from any content.ImageSource and writes through any
// content.Ingester and content.Tagger. What it promises: every byte is
// verified while it streams (the source's verified reader, and the
// destination's PutBlob again, unless the source's reader is a
// content.VerifiedReader); blobs the destination has are skipped, and a
// manifest's blobs are copied four at a time; the tag is set only after
// every blob is in place, so a failed copy leaves the destination's tags as
// they were.
package distribution
