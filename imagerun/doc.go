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
// container (delete, delete --force, --rm) removes its directory: the
// configuration carries runtime.AnnotationRemoveBundle, which the runtime's
// delete honours in-process after the container is gone. That was chosen
// over a poststop hook running ocikit: no process to start (a hook cost
// 10-20 ms per container here), no dependence on the binary's path still
// being valid at delete time, and no failure that runtime.md lets pass as
// a warning. GC in package snapshot removes the directory of a container
// that never got that far. Where the kernel refuses the overlay, the root filesystem is
// a copy of the snapshots applied in order (snapshot.ApplySnapshots,
// reflinked where possible), said once per store.
//
// Rootless (a store opened snapshot.WithRootless), the configuration is
// the rootless conversion `image unpack --rootless` makes (the caller is
// root of the container's user namespace, which also owns its network
// namespace), the overlay is the kernel's unprivileged one, mounted by the
// runtime in the container's user and mount namespaces, and the missing
// snapshots are made by a helper process (Options.SnapshotHelper,
// PrepareSnapshots) started in a user and mount namespace of its own,
// the one place an unprivileged process may mount the overlays that
// applying a layer needs; it also probes the overlay once per store.
package imagerun
