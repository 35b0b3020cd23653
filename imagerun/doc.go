// Package imagerun is `ocikit image run`: from an image reference to a
// running container in one step, on the shared store of package snapshot.
//
// Run resolves the reference (any transport `image copy` takes), copies
// what the store lacks, makes the missing layer snapshots, and writes the
// container's bundle into its store directory: config.json is
// bundle.Config's (the conversion `image unpack` does, with the same
// overrides) plus image run's own choices (hostname, terminal, volumes,
// tmpfs, resources, network). The root filesystem is an overlay of the
// snapshots with the container's upper directory, mounted by the runtime
// inside the container's mount namespace (rootfs.AnnotationOverlay), so
// it exists only as long as the container's processes: no host mount to
// leak when ocikit is killed, none for delete to forget. Deleting the
// container runs a poststop hook (runtime-spec runtime.md "Delete": run
// after the container is deleted) that removes its directory; GC in
// package snapshot removes the directory of a container that never got
// that far. Where the kernel refuses the overlay, the root filesystem is
// a copy (snapshot.CopyTree, reflinked where possible), said once per
// store.
package imagerun
