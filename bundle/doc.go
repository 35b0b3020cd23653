// Package bundle turns an image into an OCI runtime bundle (runtime-spec
// bundle.md), the orchestration behind `ocikit image unpack`. The image is
// resolved by the caller (content.Resolver) and its layers read from any
// content.Provider, an OCI image layout in ocikit's CLI.
//
// Unpack puts three things in the bundle directory:
//
//   - rootfs/, the image's layers applied in order by layer.Unpack, each
//     verified against its digest and diff_id;
//   - config.json, the image configuration converted by
//     convert.RuntimeSpec (image-spec conversion.md), with Config.User
//     resolved through the new rootfs's /etc/passwd and /etc/group and the
//     caller's overrides applied; it runs unchanged under `runc run` and
//     `ocikit run`;
//   - the repack snapshot (repack.Record), so `ocikit image repack` can
//     later turn what changed in rootfs into a new layer.
//
// What it promises: the target is never merged into (it must not exist or
// be an empty directory); bad overrides are rejected before anything is
// written; and on any failure the target is left as it was found. The
// bundle directory is created 0700 (its rootfs holds the image's setuid
// files) and config.json 0644, as `runc spec` writes it.
//
// With WithRootfsOnly the target is the root filesystem itself and only
// the layers are unpacked.
package bundle
