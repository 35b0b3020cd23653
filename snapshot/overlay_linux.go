package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/ocikit/ocikit/convert"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/layer"
)

// ErrOverlay: the kernel refused the overlay mount (no overlayfs, or a
// filesystem it cannot stack or write on).
var ErrOverlay = errdefs.New(errdefs.ErrUnsupported, "snapshot: overlay mount refused")

// OverlayOptions is the overlayfs option string for lowers (bottom first)
// under upper and work; without upper, a read-only stack of lowers.
// index, metacopy and redirect_dir are off whatever the kernel's defaults:
// the snapshots must stay plain directories any later mount can stack. A
// rootless store's overlay is an unprivileged one: "userxattr", which
// itself turns redirects (to nofollow) and metacopy off and refuses them
// being named.
func (s *Store) OverlayOptions(lowers []string, upper, work string) string {
	top := slices.Clone(lowers)
	slices.Reverse(top) // overlayfs lists the topmost lower first
	opts := "lowerdir=" + strings.Join(escape(top), ":")
	if upper != "" {
		opts += ",upperdir=" + escapeOne(upper) + ",workdir=" + escapeOne(work)
	}
	for _, kv := range overlayFlags(s.rootless) {
		opts += "," + kv[0]
		if kv[1] != "" {
			opts += "=" + kv[1]
		}
	}
	return opts
}

// overlayFlags are the options after the directories.
func overlayFlags(rootless bool) [][2]string {
	if rootless {
		return [][2]string{{"userxattr", ""}, {"index", "off"}}
	}
	return [][2]string{{"index", "off"}, {"metacopy", "off"}, {"redirect_dir", "off"}}
}

func escape(p []string) []string {
	out := make([]string, len(p))
	for i, s := range p {
		out[i] = escapeOne(s)
	}
	return out
}

// escapeOne escapes the separators of overlayfs's option syntax.
func escapeOne(p string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`).Replace(p)
}

// Mount is a detached overlay mount (fsmount(2)): attached to no path, so
// no other process sees it and it goes away when Close drops the last
// reference, or with the process.
type Mount struct{ f *os.File }

// Path reaches the mount's root through /proc/self/fd.
func (m *Mount) Path() string { return "/proc/self/fd/" + strconv.Itoa(int(m.f.Fd())) }

// Close releases the mount.
func (m *Mount) Close() error { return m.f.Close() }

// MountOverlay makes a detached overlay of lowers (bottom first) with
// upper and work, or a read-only one of lowers alone when upper is "".
// A refusal by the kernel is ErrOverlay.
func MountOverlay(lowers []string, upper, work string) (*Mount, error) {
	return mountOverlay(lowers, upper, work, false)
}

// MountOverlay is the package's MountOverlay with the store's options
// (OverlayOptions).
func (s *Store) MountOverlay(lowers []string, upper, work string) (*Mount, error) {
	return mountOverlay(lowers, upper, work, s.rootless)
}

func mountOverlay(lowers []string, upper, work string, rootless bool) (*Mount, error) {
	if len(lowers) == 0 {
		return nil, fmt.Errorf("%w: no lower directory", ErrOverlay)
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("%w: fsopen: %w", ErrOverlay, err)
	}
	defer unix.Close(fsfd)
	top := slices.Clone(lowers)
	slices.Reverse(top)
	set := func(k, v string) error {
		if err := unix.FsconfigSetString(fsfd, k, v); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrOverlay, k, err)
		}
		return nil
	}
	// fsconfig(2) takes strings of at most 256 bytes: "lowerdir+" (Linux
	// 6.8) adds one layer at a time, topmost first; older kernels get the
	// whole list, which is enough for short stacks.
	var steps [][2]string
	if err := unix.FsconfigSetString(fsfd, "lowerdir+", top[0]); err == nil {
		for _, l := range top[1:] {
			steps = append(steps, [2]string{"lowerdir+", l})
		}
	} else {
		steps = append(steps, [2]string{"lowerdir", strings.Join(escape(top), ":")})
	}
	if upper != "" {
		steps = append(steps, [2]string{"upperdir", upper}, [2]string{"workdir", work})
	}
	for _, s := range steps {
		if err := set(s[0], s[1]); err != nil {
			return nil, err
		}
	}
	for _, kv := range overlayFlags(rootless) {
		var err error
		if kv[1] == "" {
			err = unix.FsconfigSetFlag(fsfd, kv[0])
		} else {
			err = unix.FsconfigSetString(fsfd, kv[0], kv[1])
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrOverlay, kv[0], err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOverlay, err)
	}
	var attr int
	if upper == "" {
		attr = unix.MOUNT_ATTR_RDONLY
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return nil, fmt.Errorf("%w: fsmount: %w", ErrOverlay, err)
	}
	return &Mount{f: os.NewFile(uintptr(mfd), "overlay")}, nil
}

// View is the merged root filesystem of lowers, read-only, for reading
// (the image's /etc/passwd): the snapshot itself for one layer, else a
// detached read-only overlay. close releases it.
func View(lowers []string) (path string, close func() error, err error) {
	if len(lowers) == 1 {
		return lowers[0], func() error { return nil }, nil
	}
	m, err := MountOverlay(lowers, "", "")
	if err != nil {
		return "", nil, err
	}
	return m.Path(), m.Close, nil
}

// applyLayer applies one layer into upper through a detached overlay of
// parents (an empty directory for the first layer) with upper and work, so
// that the kernel records the changes as an overlayfs upper directory:
// whiteouts as overlayfs makes them, and an image's own trusted.overlay.*
// attributes escaped (kernel 6.7 and later) instead of taken for
// overlayfs's. Where the kernel refuses that overlay, or the store was
// opened WithoutOverlay, the layer package writes the same upper
// directory itself (layer.WithOverlayDiff), said once per store.
//
// Then it copies the merged /etc/passwd and /etc/group to users
// (convert.CopyUserDatabases).
func (s *Store) applyLayer(ctx context.Context, p layer.BlobOpener, desc v1.Descriptor, diffID digest.Digest, upper, work string, parents []string, users string) error {
	var lopts []layer.Option
	if s.rootless {
		lopts = append(lopts, layer.WithRootless())
	}
	if err := os.Mkdir(work, 0o700); err != nil {
		return err
	}
	if len(parents) == 0 {
		empty := filepath.Join(filepath.Dir(work), "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			return err
		}
		parents = []string{empty}
	} else if err := CopyRootAttrs(parents[len(parents)-1], upper); err != nil {
		return err
	}
	why := errNoOverlayAsked
	if !s.noOverlay {
		m, err := s.MountOverlay(parents, upper, work)
		if err == nil {
			defer m.Close()
			if err := layer.ApplyBlob(ctx, p, desc, diffID, m.Path(), lopts...); err != nil {
				return err
			}
			return convert.CopyUserDatabases(m.Path(), users)
		}
		if !errors.Is(err, ErrOverlay) {
			return err
		}
		why = err
	}
	s.noOverlayOnce.Do(func() {
		s.log.Warn("making snapshots without overlay: each layer's overlay diff is written directly", "store", s.dir, "reason", why)
	})
	lopts = append(lopts, layer.WithOverlayDiff(parents))
	if err := layer.ApplyBlob(ctx, p, desc, diffID, upper, lopts...); err != nil {
		return err
	}
	return s.mergeUsers(append(slices.Clone(parents), upper), filepath.Join(filepath.Dir(work), "usersview"), users)
}

var errNoOverlayAsked = errors.New("asked for (WithoutOverlay)")

// mergeUsers copies /etc/passwd and /etc/group of the overlay stack
// layers (bottom first), looked up without mounting it, to users: view
// gets the two files (convert.CopyUserDatabases reads them there).
func (s *Store) mergeUsers(layers []string, view, users string) error {
	opq := "trusted.overlay.opaque"
	if s.rootless {
		opq = "user.overlay.opaque"
	}
	if err := os.MkdirAll(filepath.Join(view, "etc"), 0o700); err != nil {
		return err
	}
	defer removeAll(view)
	for _, name := range []string{"/etc/passwd", "/etc/group"} {
		src, ok, err := layer.ResolveOverlay(layers, opq, name)
		if err != nil {
			return fmt.Errorf("users: %w", err)
		}
		if !ok {
			continue
		}
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := copyFile(src, filepath.Join(view, name)); err != nil {
			return fmt.Errorf("users: %w", err)
		}
	}
	return convert.CopyUserDatabases(view, users)
}

// CopyRootAttrs gives dir the mode, owner and times of src's root: an
// overlay's root directory is its upper one, which must look like the
// image's root.
func CopyRootAttrs(src, dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(src, &st); err != nil {
		return &os.PathError{Op: "stat", Path: src, Err: err}
	}
	if err := unix.Lchown(dir, int(st.Uid), int(st.Gid)); err != nil {
		return &os.PathError{Op: "chown", Path: dir, Err: err}
	}
	if err := unix.Chmod(dir, st.Mode&0o7777); err != nil {
		return &os.PathError{Op: "chmod", Path: dir, Err: err}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNano(dir, ts); err != nil {
		return &os.PathError{Op: "utimes", Path: dir, Err: err}
	}
	return nil
}

// commitDir makes dir durable and renames it to final: the snapshot
// appears whole or not at all.
func commitDir(dir, final string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = unix.Syncfs(int(f.Fd()))
	f.Close()
	if err != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	if err := unix.Rename(dir, final); err != nil {
		return &os.LinkError{Op: "rename", Old: dir, New: final, Err: err}
	}
	if d, err := os.Open(filepath.Dir(final)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// removeAll removes a tree that may hold directories without write or
// search permission (an image's mode 0 directories, overlayfs's work/work).
func removeAll(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	_ = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}

// checkUserXattr sets and removes a user.* xattr on dir (a directory:
// user.* attributes exist only on files and directories).
func checkUserXattr(dir string) error {
	const name = "user.ocikit.probe"
	if err := unix.Setxattr(dir, name, []byte("1"), 0); err != nil {
		return &os.PathError{Op: "setxattr", Path: dir, Err: err}
	}
	unix.Removexattr(dir, name)
	return nil
}
