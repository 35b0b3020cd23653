//go:build !linux

package convert

import (
	"fmt"
	"os"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// openInRoot opens the regular file name for reading, resolving symlinks
// as if root were "/". Outside Linux there is no race-free resolution, so
// the lexical securejoin is used: good enough for reading a root
// filesystem no container is running in.
func openInRoot(root, name string) (*os.File, error) {
	p, err := securejoin.SecureJoin(root, name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	return os.Open(p)
}
