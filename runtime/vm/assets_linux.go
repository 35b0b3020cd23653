package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ocikit/ocikit/internal/fsutil"
)

// kernelPackage is the Debian kernel the VM boots by default: the generic
// flavour, because the cloud flavour (test/vm's) has no 9p at all. Its
// drivers are modules; the initramfs carries the few the agent needs.
const kernelPackage = "linux-image-amd64"

// guestModules are the kernel modules the agent loads (with their
// dependencies, found in each module's .modinfo): the virtio-mmio
// transport of a microvm (virtio_pci for a pc machine), the serial port,
// the 9p file system and virtio-fs (the root filesystem's, virtiofs.go).
var guestModules = []string{"virtio_mmio", "virtio_pci", "virtio_console", "9pnet_virtio", "9p", "virtiofs"}

// modulesWanted, in a cached kernel's modules directory, lists the
// guestModules it was extracted for: a cache made for fewer is completed
// (completeModules).
const modulesWanted = "wanted"

// assets are the kernel and initramfs a VM boots.
type assets struct {
	kernel, initrd string
}

// DefaultCacheDir is where the kernel and the initramfs are kept:
// /var/cache/ocikit/vm for root, $XDG_CACHE_HOME/ocikit/vm (or
// ~/.cache/ocikit/vm) for others.
func DefaultCacheDir() string {
	if os.Geteuid() == 0 {
		return "/var/cache/ocikit/vm"
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "ocikit", "vm")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "ocikit", "vm")
}

// resolveAssets returns the kernel (s.kernel, else the cached Debian
// kernel, fetched on first use) and the initramfs (s.initrd, else one
// built from bin for that kernel and cached until either changes).
func resolveAssets(ctx context.Context, cache, bin string, s settings) (assets, error) {
	var a assets
	modDir := ""
	if s.kernel != "" {
		if _, err := os.Stat(s.kernel); err != nil {
			return a, fmt.Errorf("vm kernel: %w", err)
		}
		a.kernel = s.kernel
		// Modules for a kernel of one's own: beside it, if any (else
		// its drivers must be built in).
		modDir = filepath.Join(filepath.Dir(s.kernel), "modules")
	} else {
		k, err := cachedKernel(ctx, cache)
		if err != nil {
			return a, err
		}
		a.kernel = k
		modDir = filepath.Join(filepath.Dir(k), "modules")
	}
	if s.initrd != "" {
		if _, err := os.Stat(s.initrd); err != nil {
			return a, fmt.Errorf("vm initrd: %w", err)
		}
		a.initrd = s.initrd
		return a, nil
	}
	i, err := cachedInitrd(cache, bin, a.kernel, modDir)
	if err != nil {
		return a, fmt.Errorf("vm initramfs: %w", err)
	}
	a.initrd = i
	return a, nil
}

// modulesDir is where the modules of the cached kernel k are.
func modulesDir(k string) string { return filepath.Join(filepath.Dir(k), "modules") }

// lockCache serializes fetches and builds in the cache between processes.
func lockCache(ctx context.Context, cache string) (func(), error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(cache, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := fsutil.Lock(ctx, f, true); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// cachedKernel returns the newest kernel in the cache
// (cache/kernel-VERSION/vmlinuz), fetching Debian's when there is none.
func cachedKernel(ctx context.Context, cache string) (string, error) {
	if k := findKernel(cache); k != "" {
		if err := completeModules(ctx, cache, k); err != nil {
			return "", fmt.Errorf("vm kernel: modules: %w", err)
		}
		if filepath.Base(k) == "vmlinuz" && !exists(k+".no-elf") {
			// A cache from before vmlinux was extracted: once.
			unlock, err := lockCache(ctx, cache)
			if err != nil {
				return "", fmt.Errorf("vm kernel: cache: %w", err)
			}
			defer unlock()
			if err := extractVmlinux(ctx, k); err == nil && validELF(filepath.Join(filepath.Dir(k), "vmlinux")) {
				return filepath.Join(filepath.Dir(k), "vmlinux"), nil
			}
			os.Remove(filepath.Join(filepath.Dir(k), "vmlinux"))
			os.WriteFile(k+".no-elf", nil, 0o644)
		}
		return k, nil
	}
	unlock, err := lockCache(ctx, cache)
	if err != nil {
		return "", fmt.Errorf("vm kernel: cache: %w", err)
	}
	defer unlock()
	if k := findKernel(cache); k != "" {
		return k, nil
	}
	if err := fetchKernel(ctx, cache); err != nil {
		return "", fmt.Errorf("vm kernel: fetch %s: %w", kernelPackage, err)
	}
	if k := findKernel(cache); k != "" {
		return k, nil
	}
	return "", fmt.Errorf("vm kernel: no kernel in %s after fetching %s", cache, kernelPackage)
}

// findKernel returns the newest cached kernel: its uncompressed ELF image
// (vmlinux) when there is one, which qemu loads directly (PVH entry), else
// the bzImage.
func findKernel(cache string) string {
	m, _ := filepath.Glob(filepath.Join(cache, "kernel-*", "vmlinuz"))
	if len(m) == 0 {
		return ""
	}
	sort.Strings(m)
	k := m[len(m)-1]
	if elf := filepath.Join(filepath.Dir(k), "vmlinux"); exists(elf) {
		return elf
	}
	return k
}

func validELF(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// xzMagic starts the xz stream inside a bzImage built with
// CONFIG_KERNEL_XZ (Debian's).
var xzMagic = []byte("\xfd7zXZ\x00")

// extractVmlinux writes the ELF kernel inside the bzImage k beside it as
// vmlinux, with xz(1), as the kernel's scripts/extract-vmlinux does. A
// guest booted from it skips decompressing itself, seconds under software
// emulation. Without xz, or from another image, nothing is written.
func extractVmlinux(ctx context.Context, k string) error {
	data, err := os.ReadFile(k)
	if err != nil {
		return err
	}
	off := bytes.Index(data, xzMagic)
	xz, lerr := exec.LookPath("xz")
	if off < 0 || lerr != nil {
		return nil
	}
	out := filepath.Join(filepath.Dir(k), "vmlinux")
	return fsutil.WriteFileFrom(out, 0o644, func(w io.Writer) error {
		cmd := exec.CommandContext(ctx, xz, "-dcq")
		cmd.Stdin = bytes.NewReader(data[off:])
		cmd.Stdout = w
		// The image's trailing bytes after the stream make xz complain:
		// what counts is an ELF file.
		cmd.Run()
		return nil
	}, fsutil.NoSync())
}

// fetchKernel downloads the kernel package with apt-get (the host's /boot
// is never touched), keeps the image and the modules the guest needs
// under cache/kernel-VERSION and removes the rest.
func fetchKernel(ctx context.Context, cache string) error {
	pkg, err := resolveKernelPackage(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(cache, ".fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	x, err := downloadKernel(ctx, pkg, tmp)
	if err != nil {
		return err
	}
	imgs, _ := filepath.Glob(filepath.Join(x, "boot", "vmlinuz-*"))
	if len(imgs) != 1 {
		return fmt.Errorf("%s: no single boot/vmlinuz-*", pkg)
	}
	version := strings.TrimPrefix(filepath.Base(imgs[0]), "vmlinuz-")
	out := filepath.Join(tmp, "kernel")
	if err := os.MkdirAll(filepath.Join(out, "modules"), 0o755); err != nil {
		return err
	}
	if err := copyFile(imgs[0], filepath.Join(out, "vmlinuz"), 0o644); err != nil {
		return err
	}
	if err := extractVmlinux(ctx, filepath.Join(out, "vmlinuz")); err != nil {
		return err
	}
	if !validELF(filepath.Join(out, "vmlinux")) {
		os.Remove(filepath.Join(out, "vmlinux"))
	}
	if err := copyModules(filepath.Join(x, "lib", "modules", version), filepath.Join(out, "modules")); err != nil {
		return err
	}
	return os.Rename(out, filepath.Join(cache, "kernel-"+version))
}

// completeModules gives the cached kernel k the guestModules a cache made
// by an older ocikit lacks (its modules directory's modulesWanted list
// differs), from its package fetched again.
func completeModules(ctx context.Context, cache, k string) error {
	dir := modulesDir(k)
	want := strings.Join(guestModules, " ") + "\n"
	if b, err := os.ReadFile(filepath.Join(dir, modulesWanted)); err == nil && string(b) == want {
		return nil
	}
	if s, ok := strings.CutPrefix(filepath.Base(filepath.Dir(k)), "kernel-"); !ok || s == "" {
		return nil // not a kernel this cache fetched
	}
	unlock, err := lockCache(ctx, cache)
	if err != nil {
		return err
	}
	defer unlock()
	if b, err := os.ReadFile(filepath.Join(dir, modulesWanted)); err == nil && string(b) == want {
		return nil
	}
	version := strings.TrimPrefix(filepath.Base(filepath.Dir(k)), "kernel-")
	tmp, err := os.MkdirTemp(cache, ".fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	x, err := downloadKernel(ctx, "linux-image-"+version, tmp)
	if err != nil {
		return err
	}
	return copyModules(filepath.Join(x, "lib", "modules", version), dir)
}

// copyModules copies the guestModules and their dependencies from a
// kernel's module tree src into dir, with their load order (order) and
// the list they were chosen for (modulesWanted), each file replaced
// whole.
func copyModules(src, dir string) error {
	order, err := moduleOrder(src, guestModules)
	if err != nil {
		return err
	}
	var names []string
	for _, m := range order {
		name := filepath.Base(m)
		err := fsutil.WriteFileFrom(filepath.Join(dir, name), 0o644, func(w io.Writer) error {
			f, err := os.Open(m)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(w, f)
			return err
		}, fsutil.NoSync())
		if err != nil {
			return err
		}
		names = append(names, name)
	}
	if err := fsutil.WriteFile(filepath.Join(dir, "order"), []byte(strings.Join(names, "\n")+"\n"), 0o644, fsutil.NoSync()); err != nil {
		return err
	}
	return fsutil.WriteFile(filepath.Join(dir, modulesWanted), []byte(strings.Join(guestModules, " ")+"\n"), 0o644, fsutil.NoSync())
}

// downloadKernel fetches the package pkg with apt-get into tmp and
// unpacks it there, returning the unpacked tree.
func downloadKernel(ctx context.Context, pkg, tmp string) (string, error) {
	download := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", "download", "-qq", pkg)
		cmd.Dir = tmp
		return runQuiet(cmd)
	}
	if err := download(); err != nil {
		if uerr := runQuiet(exec.CommandContext(ctx, "apt-get", "update", "-qq")); uerr != nil {
			return "", err
		}
		if err := download(); err != nil {
			return "", err
		}
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download %s: no package file", pkg)
	}
	x := filepath.Join(tmp, "x")
	if err := runQuiet(exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], x)); err != nil {
		return "", err
	}
	return x, nil
}

func resolveKernelPackage(ctx context.Context) (string, error) {
	for attempt := 0; attempt < 2; attempt++ {
		out, _ := exec.CommandContext(ctx, "apt-cache", "depends", kernelPackage).Output()
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
				return f[1], nil
			}
		}
		if attempt == 0 {
			if err := runQuiet(exec.CommandContext(ctx, "apt-get", "update", "-qq")); err != nil {
				return "", err
			}
		}
	}
	return "", fmt.Errorf("apt-cache: no package that %s depends on", kernelPackage)
}

// runQuiet runs cmd and turns a failure into an error with its last line
// of output.
func runQuiet(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, lastLine(out))
	}
	return nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// moduleOrder finds the named modules under dir and the modules they
// depend on (the depends= field of .modinfo), in an order where every
// module comes after its dependencies. A name not found is skipped (built
// in, or not in this kernel).
func moduleOrder(dir string, names []string) ([]string, error) {
	paths := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".ko") {
			paths[modName(strings.TrimSuffix(d.Name(), ".ko"))] = p
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var order []string
	seen := map[string]bool{}
	var visit func(string) error
	visit = func(name string) error {
		name = modName(name)
		if seen[name] {
			return nil
		}
		seen[name] = true
		p, ok := paths[name]
		if !ok {
			return nil
		}
		deps, err := moduleDepends(p)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		order = append(order, p)
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func modName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// moduleDepends reads the depends= entry of a module's .modinfo section.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, nil
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok && len(v) > 0 {
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// cachedInitrd returns the initramfs for the binary bin and the kernel,
// building it when the cache has none for this pair: its name carries a
// hash of both files' identity (device, inode, size, change time), so a
// rebuilt binary gets a new one. Stale ones older than an hour go.
func cachedInitrd(cache, bin, kernel, modDir string) (string, error) {
	h := sha256.New()
	ids := []string{bin, kernel}
	if order := filepath.Join(modDir, "order"); exists(order) {
		// Modules added to the cache (completeModules) make a new one.
		ids = append(ids, order)
	}
	ps := hostPs()
	if ps != "" {
		ids = append(ids, ps)
	}
	for _, p := range ids {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return "", &os.PathError{Op: "stat", Path: p, Err: err}
		}
		fmt.Fprintf(h, "%s %d %d %d %d.%d\n", p, st.Dev, st.Ino, st.Size, st.Ctim.Sec, st.Ctim.Nsec)
	}
	name := filepath.Join(cache, "initrd-"+hex.EncodeToString(h.Sum(nil))[:16]+".cpio")
	if _, err := os.Stat(name); err == nil {
		return name, nil
	}
	unlock, err := lockCache(context.Background(), cache)
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(name); err == nil {
		return name, nil
	}
	err = fsutil.WriteFileFrom(name, 0o644, func(w io.Writer) error {
		return writeInitrd(w, bin, ps, modDir)
	}, fsutil.NoSync())
	if err != nil {
		return "", err
	}
	old, _ := filepath.Glob(filepath.Join(cache, "initrd-*.cpio"))
	for _, o := range old {
		if fi, err := os.Stat(o); err == nil && o != name && time.Since(fi.ModTime()) > time.Hour {
			os.Remove(o)
		}
	}
	return name, nil
}

// writeInitrd writes the guest's initramfs, an uncompressed cpio (the
// kernel copies it instead of inflating it, which costs seconds under
// software emulation): ocikit as /init, its dynamic loader and shared
// libraries at their paths, the modules of modDir with their load order,
// and the empty directories the agent mounts on; with ps (the host's
// ps(1), "" for none) also ps as /bin/ps with its libraries, for `ps`
// with --vm (about 4 MiB more with Debian's procps).
func writeInitrd(w io.Writer, bin, ps, modDir string) error {
	c := newCpio(w)
	for _, d := range []string{"bin", "dev", "proc", "sys", "run", "tmp", "etc", "lib", "lib/modules"} {
		if err := c.dir(d, 0o755); err != nil {
			return err
		}
	}
	init, cleanup := stripped(bin)
	defer cleanup()
	if err := c.file("init", init, 0o755); err != nil {
		return err
	}
	libs, err := sharedLibs(bin)
	if err != nil {
		return err
	}
	if ps != "" {
		psLibs, err := sharedLibs(ps)
		if err != nil {
			return err
		}
		for _, l := range psLibs {
			if !slices.Contains(libs, l) {
				libs = append(libs, l)
			}
		}
		if err := c.file("bin/ps", ps, 0o755); err != nil {
			return err
		}
	}
	made := map[string]bool{}
	for _, l := range libs {
		rel := strings.TrimPrefix(l, "/")
		for d := filepath.Dir(rel); d != "." && !made[d]; d = filepath.Dir(d) {
			made[d] = true
		}
	}
	dirs := make([]string, 0, len(made))
	for d := range made {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs) // parents first
	for _, d := range dirs {
		if d == "lib" {
			continue
		}
		if err := c.dir(d, 0o755); err != nil {
			return err
		}
	}
	for _, l := range libs {
		if err := c.file(strings.TrimPrefix(l, "/"), l, 0o755); err != nil {
			return err
		}
	}
	if order, err := os.ReadFile(filepath.Join(modDir, "order")); err == nil {
		for _, m := range strings.Fields(string(order)) {
			if err := c.file("lib/modules/"+m, filepath.Join(modDir, m), 0o644); err != nil {
				return err
			}
		}
		if err := c.data("lib/modules/order", order, 0o644); err != nil {
			return err
		}
	}
	return c.close()
}

// hostPs is the host's ps(1), resolved through symbolic links, or "".
func hostPs() string {
	p, err := exec.LookPath("ps")
	if err != nil {
		return ""
	}
	if p, err = filepath.EvalSymlinks(p); err != nil {
		return ""
	}
	return p
}

// stripped returns a copy of bin without its symbol tables when strip(1)
// is there (a third less for the kernel to unpack at every boot; Go's
// own tables stay), else bin.
func stripped(bin string) (string, func()) {
	strip, err := exec.LookPath("strip")
	if err != nil {
		return bin, func() {}
	}
	f, err := os.CreateTemp("", "ocikit-init-")
	if err != nil {
		return bin, func() {}
	}
	f.Close()
	if err := exec.Command(strip, "-s", "-o", f.Name(), bin).Run(); err != nil {
		os.Remove(f.Name())
		return bin, func() {}
	}
	return f.Name(), func() { os.Remove(f.Name()) }
}

// sharedLibs lists the dynamic loader and every shared library bin needs,
// transitively, as paths on this host (debug/elf: PT_INTERP and
// DT_NEEDED, searched in the usual directories). A static binary needs
// none.
func sharedLibs(bin string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	dirs := []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}
	var visit func(string, bool) error
	visit = func(p string, root bool) error {
		f, err := elf.Open(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		defer f.Close()
		if root {
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP {
					b, err := io.ReadAll(prog.Open())
					if err != nil {
						return err
					}
					interp := strings.TrimRight(string(b), "\x00")
					if !seen[interp] {
						seen[interp] = true
						out = append(out, interp)
					}
				}
			}
		}
		needed, err := f.DynString(elf.DT_NEEDED)
		if err != nil {
			return nil // static
		}
		for _, n := range needed {
			found := ""
			for _, d := range dirs {
				if _, err := os.Stat(filepath.Join(d, n)); err == nil {
					found = filepath.Join(d, n)
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s needs %s: not found", p, n)
			}
			if seen[found] {
				continue
			}
			seen[found] = true
			out = append(out, found)
			if err := visit(found, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(bin, true); err != nil {
		return nil, err
	}
	return out, nil
}
