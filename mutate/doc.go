// Package mutate derives new images in a Store (package content's Ingester
// and Tagger; an OCI image layout in ocikit's CLI): an empty image (New), an
// image with one more layer (AppendLayer, used by both repack and
// add-layer), and an image with an edited config (EditConfig). Images are
// read by the caller (content.ImageSource.Resolve) and passed in.
//
// Images are immutable (config.md "Image JSON"): every change stores a new
// config blob and a new manifest and moves a tag to it. The previous blobs
// stay in the store until garbage collection, so other tags and digests
// referring to them keep working. A tag that named an image index names the
// new manifest afterwards. The config is handled through image-spec's
// v1.Image, so fields outside the specification are not carried over.
//
// Output is reproducible: "created" of the config and of the history entry
// comes from WithCreated (else the clock), JSON is marshalled
// deterministically, and layers are compressed reproducibly
// (layer.Compress).
package mutate
