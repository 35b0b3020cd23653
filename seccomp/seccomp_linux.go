//go:build linux && cgo

package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/ocikit/ocikit/internal/fsutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// action translates an action and its errnoRet. config-linux.md: errnoRet
// defaults to EPERM, and an action that takes no errno MUST fail when one
// is given.
func action(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	ret := int16(unix.EPERM)
	if errnoRet != nil {
		if *errnoRet > 0xffff {
			return 0, invalid("errnoRet %d out of range", *errnoRet)
		}
		ret = int16(*errnoRet)
	}
	switch a {
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(ret), nil
	}
	if errnoRet != nil {
		return 0, invalid("action %s does not take an errnoRet", a)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return 0, invalid("unknown action %q", a)
}

// arch maps "SCMP_ARCH_X86_64" to libseccomp's value.
func arch(a specs.Arch) (libseccomp.ScmpArch, error) {
	name, ok := strings.CutPrefix(string(a), "SCMP_ARCH_")
	if ok {
		if v, err := libseccomp.GetArchFromString(strings.ToLower(name)); err == nil {
			return v, nil
		}
	}
	return 0, invalid("unknown architecture %q", a)
}

// Validate checks cfg without loading it: actions, errnoRet, operators,
// architectures and flags. Syscall names are not checked (unknown ones are
// skipped by Load).
func Validate(cfg *specs.LinuxSeccomp) error {
	if cfg == nil {
		return nil
	}
	f, _, err := build(cfg, newOptions(nil))
	if f != nil {
		f.Release()
	}
	return err
}

// Load installs cfg as the seccomp filter of the calling process (all
// threads) and returns the user notification fd when an SCMP_ACT_NOTIFY
// rule is present, otherwise -1. A nil cfg does nothing. It is Compile
// followed by Program.Load.
//
// Load does not set no_new_privs itself (config.md noNewPrivileges is the
// runtime's decision): without it the caller needs CAP_SYS_ADMIN, so the
// init loads the filter before dropping capabilities in that case.
func Load(cfg *specs.LinuxSeccomp, opts ...Option) (notifyFd int, err error) {
	if cfg == nil {
		return -1, nil
	}
	p, err := Compile(cfg, opts...)
	if err != nil {
		return -1, err
	}
	return p.Load()
}

// Compile translates cfg into the BPF program libseccomp generates for it
// and the seccomp(2) flags to load it with. Generating a large profile
// takes libseccomp tens of milliseconds, so a runtime compiles in the
// parent, caches by content (WithCacheDir) and hands the Program to the
// container's init, which only loads it.
func Compile(cfg *specs.LinuxSeccomp, opts ...Option) (*Program, error) {
	if cfg == nil {
		return nil, nil
	}
	o := newOptions(opts)
	flags, err := kernelFlags(cfg)
	if err != nil {
		return nil, err
	}
	var key string
	if o.cacheDir != "" {
		key = cacheKey(cfg)
		if bpf, err := os.ReadFile(filepath.Join(o.cacheDir, key)); err == nil && len(bpf) > 0 && len(bpf)%8 == 0 {
			return &Program{BPF: bpf, Flags: flags}, nil
		}
	}
	f, _, err := build(cfg, o)
	if f != nil {
		defer f.Release()
	}
	if err != nil {
		return nil, err
	}
	bpf, err := export(f)
	if err != nil {
		return nil, err
	}
	if key != "" {
		storeCache(o, key, bpf)
	}
	return &Program{BPF: bpf, Flags: flags}, nil
}

// export returns the filter's BPF through a memfd (seccomp_export_bpf;
// the in-memory variant needs libseccomp 2.6).
func export(f *libseccomp.ScmpFilter) ([]byte, error) {
	fd, err := unix.MemfdCreate("ocikit-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp: export filter: %w", os.NewSyscallError("memfd_create", err))
	}
	file := os.NewFile(uintptr(fd), "ocikit-seccomp")
	defer file.Close()
	if err := f.ExportBPF(file); err != nil {
		return nil, fmt.Errorf("seccomp: export filter: %w", err)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seccomp: export filter: %w", err)
	}
	bpf, err := io.ReadAll(file)
	if err != nil {
		return nil, fmt.Errorf("seccomp: export filter: %w", err)
	}
	if len(bpf) == 0 || len(bpf)%8 != 0 {
		return nil, fmt.Errorf("seccomp: export filter: %d bytes is not a BPF program", len(bpf))
	}
	return bpf, nil
}

// cacheKey names the compiled form of cfg: its JSON (without the listener
// fields, which do not change the program), the libseccomp version and the
// architecture.
func cacheKey(cfg *specs.LinuxSeccomp) string {
	h := sha256.New()
	h.Write(programJSON(cfg))
	fmt.Fprintf(h, "\x00%s\x00%s", LibraryVersion(), goruntime.GOARCH)
	return hex.EncodeToString(h.Sum(nil)) + ".bpf"
}

// CEntry names cfg's compiled program for the C create
// (runtime/nsenter/cseccomp.c), which reads it from the cache directory
// without starting Go: the file name, "c-" and the FNV-1a 64 hash of the
// header in hex, ".bpf", and the header the file starts with: cfg's JSON
// as encoding/json writes it (the listener fields left out: the C create
// takes no listener), a NUL, "libseccomp ", the library's version, a
// space and GOARCH, a NUL. The file goes on with the seccomp(2) flags (4 bytes, the host's
// byte order) and the BPF program. The C create builds the header from
// the configuration it read and uses a file only if it starts with
// exactly that header: a hash collision costs a compile, never a wrong
// filter.
func CEntry(cfg *specs.LinuxSeccomp) (name string, header []byte) {
	header = append(append(programJSON(cfg), "\x00libseccomp "...), LibraryVersion()...)
	header = append(append(append(header, ' '), goruntime.GOARCH...), 0)
	h := fnv.New64a()
	h.Write(header)
	return fmt.Sprintf("c-%016x.bpf", h.Sum64()), header
}

// programJSON is what of cfg makes its program: its JSON without the
// listener fields.
func programJSON(cfg *specs.LinuxSeccomp) []byte {
	c := *cfg
	c.ListenerPath, c.ListenerMetadata = "", ""
	data, _ := json.Marshal(&c)
	return data
}

// storeCache writes bpf atomically; a failure only costs the next compile.
func storeCache(o *options, key string, bpf []byte) {
	if err := os.MkdirAll(o.cacheDir, 0o700); err != nil {
		o.log.Debug("seccomp: cache", "error", err)
		return
	}
	// A lost or missing entry only costs the next compile: no fsync.
	if err := fsutil.WriteFile(filepath.Join(o.cacheDir, key), bpf, 0o600, fsutil.NoSync()); err != nil {
		o.log.Debug("seccomp: cache", "error", err)
	}
}

func build(cfg *specs.LinuxSeccomp, o *options) (*libseccomp.ScmpFilter, bool, error) {
	if cfg.DefaultAction == specs.ActNotify {
		// The runtime itself would be stopped by its own filter before it
		// could hand the fd to the agent (runc refuses it too).
		return nil, false, invalid("SCMP_ACT_NOTIFY cannot be the default action")
	}
	def, err := action(cfg.DefaultAction, cfg.DefaultErrnoRet)
	if err != nil {
		return nil, false, fmt.Errorf("defaultAction: %w", err)
	}
	if cfg.ListenerMetadata != "" && cfg.ListenerPath == "" {
		return nil, false, invalid("listenerMetadata set without listenerPath")
	}
	// Validate everything before creating the filter.
	var archs []libseccomp.ScmpArch
	for _, a := range cfg.Architectures {
		v, err := arch(a)
		if err != nil {
			return nil, false, err
		}
		archs = append(archs, v)
	}
	if _, err := kernelFlags(cfg); err != nil {
		return nil, false, err
	}
	type rule struct {
		act   libseccomp.ScmpAction
		conds [][]libseccomp.ScmpCondition // OR of ANDs
		names []string
	}
	var rules []rule
	notify := false
	for i, sc := range cfg.Syscalls {
		if len(sc.Names) == 0 {
			return nil, false, invalid("syscalls[%d]: names must not be empty", i)
		}
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, false, fmt.Errorf("syscalls[%d] %v: %w", i, sc.Names, err)
		}
		if sc.Action == specs.ActNotify {
			notify = true
			for _, n := range sc.Names {
				if n == "write" || n == "sendmsg" || n == "connect" || n == "close" {
					return nil, false, invalid("syscalls[%d]: SCMP_ACT_NOTIFY on %q would block the runtime sending the notify fd", i, n)
				}
			}
		}
		conds, err := conditions(sc.Args)
		if err != nil {
			return nil, false, fmt.Errorf("syscalls[%d] %v: %w", i, sc.Names, err)
		}
		rules = append(rules, rule{act: act, conds: conds, names: sc.Names})
	}

	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, false, fmt.Errorf("seccomp: new filter: %w", err)
	}
	// A binary tree of syscall numbers instead of a linear list: for a
	// profile of hundreds of names both generating and running the filter
	// are much faster (libseccomp >= 2.5; older ones keep the linear list).
	if err := f.SetOptimize(2); err != nil {
		o.log.Debug("seccomp: binary tree optimization unavailable", "error", err)
	}
	// no_new_privs is set by the runtime from process.noNewPrivileges.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return f, false, fmt.Errorf("seccomp: clear no_new_privs attribute: %w", err)
	}
	for i, a := range archs {
		err := f.AddArch(a)
		switch {
		case err == nil, errors.Is(err, unix.EEXIST):
		case errors.Is(err, unix.EDOM):
			// The other byte order: one filter cannot hold both, and this
			// host cannot run such binaries natively, so the profile's
			// entry is moot here (profiles often list every architecture).
			o.log.Debug("seccomp: skipping architecture of the other byte order", "arch", cfg.Architectures[i])
		default:
			return f, false, fmt.Errorf("seccomp: architecture %s: %w", cfg.Architectures[i], err)
		}
	}
	for _, r := range rules {
		if r.act == def {
			// libseccomp rejects a rule equal to the default action; it
			// would change nothing anyway.
			continue
		}
		for _, name := range r.names {
			call, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				o.log.Debug("seccomp: skipping syscall unknown to libseccomp", "syscall", name)
				continue
			}
			if len(r.conds) == 0 {
				err = f.AddRule(call, r.act)
			} else {
				for _, c := range r.conds {
					if err = f.AddRuleConditional(call, r.act, c); err != nil {
						break
					}
				}
			}
			if err != nil {
				return f, false, fmt.Errorf("seccomp: add rule for %s: %w", name, err)
			}
		}
	}
	return f, notify, nil
}

// conditions translates args. Conditions on different arguments are ANDed
// in one rule. When one argument index appears several times, libseccomp
// cannot AND them in one rule, so each condition becomes a rule of its own
// (an OR), as runc does.
func conditions(args []specs.LinuxSeccompArg) ([][]libseccomp.ScmpCondition, error) {
	if len(args) == 0 {
		return nil, nil
	}
	var conds []libseccomp.ScmpCondition
	seen := map[uint]bool{}
	repeated := false
	for _, a := range args {
		op, ok := operators[a.Op]
		if !ok {
			return nil, invalid("unknown operator %q", a.Op)
		}
		if a.Index > 5 {
			return nil, invalid("argument index %d: want 0 to 5", a.Index)
		}
		var c libseccomp.ScmpCondition
		var err error
		if op == libseccomp.CompareMaskedEqual {
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		} else {
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value)
		}
		if err != nil {
			return nil, invalid("argument %d %s: %v", a.Index, a.Op, err)
		}
		repeated = repeated || seen[a.Index]
		seen[a.Index] = true
		conds = append(conds, c)
	}
	if !repeated {
		return [][]libseccomp.ScmpCondition{conds}, nil
	}
	out := make([][]libseccomp.ScmpCondition, 0, len(conds))
	for _, c := range conds {
		out = append(out, []libseccomp.ScmpCondition{c})
	}
	return out, nil
}

// Features describes seccomp support for `ocikit features`
// (features-linux.md "Seccomp"): the recognized actions, operators,
// architectures (those this libseccomp knows) and flags, and the flags the
// running libseccomp and kernel support.
func Features() *features.Seccomp {
	enabled := true
	out := &features.Seccomp{Enabled: &enabled, Actions: Actions, Operators: Operators, KnownFlags: Flags}
	// An architecture is listed when this libseccomp knows it (the Go
	// binding knows names the C library may not); those of the other byte
	// order are recognized and skipped by Compile.
	f, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err == nil {
		defer f.Release()
		native, _ := libseccomp.GetNativeArch()
		for _, a := range Archs {
			v, err := arch(specs.Arch(a))
			if err != nil {
				continue
			}
			if v == native {
				out.Archs = append(out.Archs, a)
				continue
			}
			if err := f.AddArch(v); err == nil || errors.Is(err, unix.EEXIST) || errors.Is(err, unix.EDOM) {
				out.Archs = append(out.Archs, a)
			}
		}
	}
	// The kernel loads the program (Program.Load), so the flags it
	// accepts are what is supported, whatever libseccomp's version.
	supported := SupportedFlags()
	out.SupportedFlags = supported
	return out
}

// LibraryVersion returns the version of the libseccomp in use ("2.5.4").
func LibraryVersion() string {
	maj, min, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", maj, min, micro)
}
