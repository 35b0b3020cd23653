//go:build !unix

package layout

import (
	"context"
	"os"
)

func flock(ctx context.Context, f *os.File, exclusive bool) error {
	return &os.PathError{Op: "flock", Path: f.Name(), Err: ErrNotSupported}
}

func tryFlock(f *os.File) (bool, error) {
	return false, &os.PathError{Op: "flock", Path: f.Name(), Err: ErrNotSupported}
}
