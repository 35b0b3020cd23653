//go:build !linux

package layer

import (
	"context"
	"io"
	"os"
)

type applier struct{}

func newApplier(string, options) (*applier, error) { return nil, ErrNotSupported }

func (*applier) applyLayer(context.Context, io.Reader) error { return ErrNotSupported }
func (*applier) finish() error                               { return ErrNotSupported }
func (*applier) close()                                      {}

func removeTree(p string) { _ = os.RemoveAll(p) }

func renameDir(old, new string) error { return os.Rename(old, new) }
