package fsutil

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPrefix starts the name of every temporary file WriteFile makes, so a
// garbage collector can recognise what an interrupted writer left behind.
const TempPrefix = ".ocikit-tmp-"

type writeOptions struct {
	sync bool
}

// WriteOption tunes WriteFile.
type WriteOption func(*writeOptions)

// NoSync skips the fsyncs: the file is still replaced atomically (a reader
// sees the old or the new content, never a mix), but a machine crash may
// lose the new content. For state on a tmpfs (/run) and caches, where
// nothing survives a crash anyway and an fsync would only cost time.
func NoSync() WriteOption { return func(o *writeOptions) { o.sync = false } }

// WriteFile replaces path with data, atomically and durably: a temporary
// file beside it (TempPrefix), written, given perm, fsynced, renamed over
// path, and the directory fsynced. A crash at any moment leaves either the
// old or the new file. Errors are *os.PathError.
func WriteFile(path string, data []byte, perm fs.FileMode, opts ...WriteOption) error {
	return WriteFileFrom(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, opts...)
}

// WriteFileFrom is WriteFile for content streamed by write (an archive,
// say, too large to hold in memory): path is replaced only when write
// returns nil, and a failed write leaves no temporary file behind. write's
// error is returned as it is.
func WriteFileFrom(path string, perm fs.FileMode, write func(io.Writer) error, opts ...WriteOption) error {
	o := writeOptions{sync: true}
	for _, f := range opts {
		f(&o)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TempPrefix+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if o.sync {
		if err := tmp.Sync(); err != nil {
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	if o.sync {
		return SyncDir(dir)
	}
	return nil
}

// SyncDir fsyncs a directory so that a create, rename or remove in it is
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}
