package seccomp

import (
	"fmt"
	"log/slog"

	"github.com/ocikit/ocikit/errdefs"
)

var (
	// ErrNotSupported is returned by builds without libseccomp (no cgo, or
	// not Linux).
	ErrNotSupported = errdefs.New(errdefs.ErrUnsupported, "seccomp: not supported by this build (needs linux and cgo with libseccomp)")
	// ErrInvalid wraps configuration errors.
	ErrInvalid = errdefs.New(errdefs.ErrInvalid, "seccomp: invalid configuration")
)

// Option configures Load.
type Option func(*options)

type options struct {
	log      *slog.Logger
	cacheDir string
}

// WithCacheDir makes Compile keep compiled programs in dir, keyed by the
// profile's content, the libseccomp version and the architecture.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// Program is a compiled filter: a classic BPF program (struct sock_filter
// entries in host byte order) and the seccomp(2) SECCOMP_FILTER_FLAG_*
// flags to install it with. It is plain data, so a runtime can compile in
// one process and load in another (the container's init).
type Program struct {
	BPF   []byte `json:"bpf"`
	Flags uint   `json:"flags"`
}

// WithLogger sets the logger for debug messages (skipped syscall names).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func newOptions(opts []Option) *options {
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Actions, Operators and Flags are the names config-linux.md defines.
var (
	Actions = []string{
		"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
		"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
	}
	Operators = []string{
		"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
		"SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
	}
	Flags = []string{
		"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
		"SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
	}
	// Archs are the architectures of config-linux.md (libseccomp v2.6.0).
	Archs = []string{
		"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
		"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
		"SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
		"SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
		"SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
		"SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
	}
)
