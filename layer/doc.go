// Package layer applies and generates OCI image layers (image-spec v1.1.1
// layer.md): the filesystem changesets that, applied in order, make an
// image's root filesystem.
//
// The unpack side (Unpack, Apply, Decompress) promises:
//
//   - Containment. No entry, link target, whiteout or metadata change
//     creates, modifies, deletes, chmods, chowns, retimes or follows anything
//     outside the root being built. Every path is resolved inside the root
//     (openat2 with RESOLVE_IN_ROOT where the kernel has it, filepath-
//     securejoin otherwise), and every change is made with *at system calls
//     on directory file descriptors that never follow a final symlink.
//     Names that climb out of the root ("../x") are refused with
//     ErrUnsafePath; absolute names are taken relative to the root; symlinks
//     are created as they are but only ever followed as if the root were "/"
//     (an entry below a symlink whose target does not exist in the root is
//     refused); an entry for the root itself must be a directory.
//   - Verification in one pass. Unpack hashes the compressed blob against its
//     descriptor and the uncompressed stream against the config's
//     rootfs.diff_ids while it applies the layer; a mismatch fails the unpack,
//     and a blob that does not match its descriptor is named as the cause of
//     whatever else went wrong with it. Digests are validated before
//     anything uses them (containers/image CVE-2024-3727).
//   - Speed: decompression (pgzip read-ahead), diff_id hashing (a pipeline
//     goroutine) and file creation overlap; directories are reached through
//     a cache of descriptors, chown and chmod are skipped when creation
//     already gave the wanted owner and mode, directory times are set once
//     at the end.
//   - All or nothing. Unpack builds in a temporary sibling directory and
//     renames it onto the target only when every layer applied and verified,
//     so a failure leaves the target as it was.
//   - Changeset semantics of layer.md: an entry over an existing path
//     replaces it unless both are directories (then only the attributes are
//     replaced); whiteouts (".wh.NAME") and opaque whiteouts (".wh..wh..opq")
//     hide only entries of lower layers, whatever their position in the tar.
//   - Overlay diffs (WithOverlayDiff): a layer applied as the upper
//     directory of an overlay of earlier ones, without mounting it, is
//     what the kernel writes through the mounted overlay (whiteouts as
//     0:0 devices, opaque directories as the opaque xattr, copy-ups);
//     the lower directories are only read, symlinks are followed
//     through the merged view, and the containment above holds.
//   - Rootless unpacking (WithRootless): no chown, no device nodes, the wanted
//     owner kept in the "user.rootlesscontainers" xattr as umoci does, and
//     directories kept usable while unpacking (their modes are restored at the
//     end).
//
// The generate side (Generate, GenerateDir, Compress) writes layer tars from
// a directory tree for repacking.
package layer
