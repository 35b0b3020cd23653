//go:build !linux

package fsutil

func newCopyBufs() [][]byte { return heapCopyBufs() }
