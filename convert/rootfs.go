package convert

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// maxDatabase bounds the size of /etc/passwd and /etc/group read from an
// image: the files come from untrusted layers.
const maxDatabase = 64 << 20

// LookupUser resolves Config.User (see ResolveUser) against /etc/passwd
// and /etc/group of the root filesystem at rootfs. The files are opened
// as if rootfs were the root directory: symlinks (including absolute ones
// and "..") are resolved inside rootfs, never on the host. A missing file
// counts as an empty database.
func LookupUser(rootfs, spec string) (ExecUser, error) {
	if _, _, err := ParseUserSpec(spec); err != nil {
		return ExecUser{}, err
	}
	var passwd []PasswdEntry
	var groups []GroupEntry
	err := readDatabase(rootfs, "/etc/passwd", func(r io.Reader) (err error) {
		passwd, err = ParsePasswd(r)
		if passwd == nil {
			passwd = []PasswdEntry{} // present but empty
		}
		return err
	})
	if err != nil {
		return ExecUser{}, err
	}
	err = readDatabase(rootfs, "/etc/group", func(r io.Reader) (err error) {
		groups, err = ParseGroup(r)
		if groups == nil {
			groups = []GroupEntry{}
		}
		return err
	})
	if err != nil {
		return ExecUser{}, err
	}
	return ResolveUser(spec, passwd, groups)
}

// readDatabase calls parse with the content of name inside rootfs; it does
// nothing when the file does not exist.
func readDatabase(rootfs, name string, parse func(io.Reader) error) error {
	f, err := openInRoot(rootfs, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: open %s in rootfs: %w", ErrDatabase, name, err)
	}
	defer f.Close()
	lr := &io.LimitedReader{R: f, N: maxDatabase + 1}
	if err := parse(lr); err != nil {
		return err
	}
	if lr.N <= 0 {
		return fmt.Errorf("%w: %s larger than %d bytes", ErrDatabase, name, maxDatabase)
	}
	return nil
}

// CopyUserDatabases copies /etc/passwd and /etc/group of the root
// filesystem at rootfs, resolved as LookupUser resolves them (inside
// rootfs, regular files only, at most 64 MiB), to dst/etc, so that
// LookupUser(dst, ...) later answers as LookupUser(rootfs, ...) would
// without the whole root filesystem (the snapshot store keeps them beside
// each snapshot). A missing file is not copied.
func CopyUserDatabases(rootfs, dst string) error {
	if err := os.MkdirAll(filepath.Join(dst, "etc"), 0o755); err != nil {
		return err
	}
	for _, name := range []string{"/etc/passwd", "/etc/group"} {
		err := readDatabase(rootfs, name, func(r io.Reader) error {
			data, err := io.ReadAll(io.LimitReader(r, maxDatabase+1))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, name), data, 0o644)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
