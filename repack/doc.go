// Package repack turns the changes made to an unpacked bundle's rootfs into
// one new image layer.
//
// Snapshot at unpack, diff at repack: Record, called once image unpack has
// put BUNDLE/rootfs in place, stores in BUNDLE/ocikit-snapshot the source
// (layout directory and manifest descriptor) and the lstat(2) of every path
// (type, mode, owner, size, mtime, ctime, inode, device, symlink target,
// xattrs). No content is hashed: any write, chmod, chown, xattr or link
// change updates a file's ctime, which only the kernel sets, and Record
// waits for the filesystem clock to tick past the newest recorded ctime so
// that no later change can keep it. Repack walks the rootfs once, compares
// each path's lstat with the snapshot (Diff) and writes a changeset with
// layer.Generate: added and changed paths, explicit whiteouts for deleted
// ones, an opaque whiteout for a directory that was removed and recreated.
// The layer is appended with mutate.AppendLayer and the snapshot re-recorded
// so the next repack starts from the new image.
//
// Output is reproducible: with the same rootfs and SOURCE_DATE_EPOCH
// (WithSourceDateEpoch) the layer, config and manifest digests are the same.
package repack
