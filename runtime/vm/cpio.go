package vm

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// cpioWriter writes the "newc" cpio format the kernel unpacks as an
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst):
// a 110-byte ASCII header per entry, name and data padded to 4 bytes, and
// a TRAILER!!! entry.
type cpioWriter struct {
	w   io.Writer
	ino int
	err error
}

func newCpio(w io.Writer) *cpioWriter { return &cpioWriter{w: w, ino: 1} }

const (
	cpioDir  = 0o040000
	cpioFile = 0o100000
)

func (c *cpioWriter) header(name string, mode uint32, size int64) error {
	if c.err != nil {
		return c.err
	}
	if len(name) > 4096 {
		return errCpioName
	}
	c.ino++
	nlink := 1
	if mode&cpioDir != 0 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name + "\x00"))
	c.pad(int64(len(hdr) + len(name) + 1))
	return c.err
}

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

func (c *cpioWriter) pad(n int64) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) dir(name string, perm uint32) error {
	return c.header(name, cpioDir|perm, 0)
}

func (c *cpioWriter) data(name string, b []byte, perm uint32) error {
	if err := c.header(name, cpioFile|perm, int64(len(b))); err != nil {
		return err
	}
	c.write(b)
	c.pad(int64(len(b)))
	return c.err
}

// file adds the content of src (symbolic links followed) as name.
func (c *cpioWriter) file(name, src string, perm uint32) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := c.header(name, cpioFile|perm, fi.Size()); err != nil {
		return err
	}
	if c.err == nil {
		var n int64
		n, c.err = io.Copy(c.w, f)
		if c.err == nil && n != fi.Size() {
			c.err = fmt.Errorf("cpio: %s changed size while being read", src)
		}
	}
	c.pad(fi.Size())
	return c.err
}

func (c *cpioWriter) close() error {
	c.ino = 0
	return c.header("TRAILER!!!", 0, 0)
}

var errCpioName = errors.New("cpio: name too long")
