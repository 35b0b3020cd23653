// Package snapshot is the store behind `ocikit image run`: one OCI image
// layout for the images and one unpacked, read-only snapshot per layer
// chain, shared by every container made from them.
//
// A store directory holds:
//
//   - images/, an OCI image layout (package layout), so skopeo, umoci and
//     the rest of ocikit read it; each image is tagged by its manifest
//     digest ("sha256-HEX");
//   - snapshots/sha256/HEX, the snapshot of the layer chain whose ChainID
//     (image-spec config.md "Layer ChainID") is sha256:HEX: the changes of
//     that chain's top layer as an overlayfs upper directory (whiteouts as
//     overlayfs makes them), to be stacked over its parents' snapshots;
//   - containers/ID, a container's own directory: its bundle (config.json,
//     an empty rootfs/ mount point) and the overlay's upper/ and work/;
//   - locks/, one lock file per snapshot being made, and lock, the store's
//     lock (shared by image run while it prepares a container, exclusive
//     for GC).
//
// What it promises: a snapshot is made once (under its lock; a second
// maker waits and finds it), verified while it is made (blob digest and
// diff_id, layer.ApplyBlob), and appears under its final name only by a
// rename(2) after the whole layer applied and the filesystem was synced,
// so a crash leaves at most a temporary directory that GC removes, never a
// snapshot that looks complete. A committed snapshot is never written
// again: it is only ever an overlayfs lower directory. Layers after the
// first are applied through a detached overlay mount (fsopen(2)/fsmount(2),
// never attached to any path, so it vanishes with the process) of the
// parent snapshots with the new snapshot as its upper directory: the
// kernel writes the whiteouts, and the layer's containment checks are
// package layer's. Where the kernel refuses that mount (or WithoutOverlay)
// package layer writes the same upper directory itself
// (layer.WithOverlayDiff), said once. GC removes snapshots that no image in the store and no
// container directory uses, and container directories whose container is
// gone (ContainerMeta.Live).
package snapshot
