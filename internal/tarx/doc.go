// Package tarx holds the tar mechanics the archive packages (ociarchive,
// dockerarchive) share, so that each keeps only its own format: opening an
// untrusted archive file, reading its entries with their names cleaned
// and bounded (names that are absolute or climb out with "..", sizes
// larger than the archive, too many entries, truncated content all
// refused), and writing a reproducible tar (owned by 0:0, a zero
// modification time) atomically over internal/fsutil.WriteFileFrom.
//
// Every refusal wraps the sentinel the caller passes (its package's
// ErrInvalidArchive), so callers keep asking errors.Is of their own kind.
package tarx
