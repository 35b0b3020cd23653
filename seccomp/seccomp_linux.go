//go:build linux && cgo

package seccomp

import (
	"errors"
	"fmt"
	"strings"

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
// rule is present, otherwise -1. A nil cfg does nothing.
//
// Load does not set no_new_privs itself (config.md noNewPrivileges is the
// runtime's decision): without it the caller needs CAP_SYS_ADMIN, so the
// init loads the filter before dropping capabilities in that case.
func Load(cfg *specs.LinuxSeccomp, opts ...Option) (notifyFd int, err error) {
	if cfg == nil {
		return -1, nil
	}
	f, notify, err := build(cfg, newOptions(opts))
	if f != nil {
		defer f.Release()
	}
	if err != nil {
		return -1, err
	}
	if err := f.Load(); err != nil {
		return -1, fmt.Errorf("seccomp: load filter: %w", err)
	}
	if !notify {
		return -1, nil
	}
	fd, err := f.GetNotifFd()
	if err != nil {
		return -1, fmt.Errorf("seccomp: get notify fd: %w", err)
	}
	// Our own copy: the filter context may close its fd when released.
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("seccomp: dup notify fd: %w", err)
	}
	return nfd, nil
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
	for _, fl := range cfg.Flags {
		if !known(Flags, string(fl)) {
			return nil, false, invalid("unknown flag %q", fl)
		}
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
	// no_new_privs is set by the runtime from process.noNewPrivileges.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return f, false, fmt.Errorf("seccomp: clear no_new_privs attribute: %w", err)
	}
	for _, a := range archs {
		if err := f.AddArch(a); err != nil && !errors.Is(err, unix.EEXIST) {
			return f, false, fmt.Errorf("seccomp: add architecture %s: %w", a, err)
		}
	}
	for _, fl := range cfg.Flags {
		switch fl {
		case "SECCOMP_FILTER_FLAG_TSYNC":
			// Always on: libseccomp-golang installs every filter with TSYNC.
		case specs.LinuxSeccompFlagLog:
			err = f.SetLogBit(true)
		case specs.LinuxSeccompFlagSpecAllow:
			err = f.SetSSB(true)
		case specs.LinuxSeccompFlagWaitKillableRecv:
			err = f.SetWaitKill(true)
		}
		if err != nil {
			return f, false, fmt.Errorf("seccomp: flag %s: %w", fl, err)
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

func known(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Features describes seccomp support for `ocikit features`
// (features-linux.md "Seccomp"): the recognized actions, operators,
// architectures (those this libseccomp knows) and flags, and the flags the
// running libseccomp and kernel support.
func Features() *features.Seccomp {
	enabled := true
	out := &features.Seccomp{Enabled: &enabled, Actions: Actions, Operators: Operators, KnownFlags: Flags}
	for _, a := range Archs {
		if _, err := arch(specs.Arch(a)); err == nil {
			out.Archs = append(out.Archs, a)
		}
	}
	api, _ := libseccomp.GetAPI()
	maj, min, _ := libseccomp.GetLibraryVersion()
	ver := maj*100 + min
	supported := []string{"SECCOMP_FILTER_FLAG_TSYNC"}
	if api >= 3 {
		supported = append(supported, "SECCOMP_FILTER_FLAG_LOG")
	}
	if api >= 4 && ver >= 205 {
		supported = append(supported, "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
	}
	if api >= 7 && ver >= 206 {
		supported = append(supported, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
	}
	out.SupportedFlags = supported
	return out
}

// LibraryVersion returns the version of the libseccomp in use ("2.5.4").
func LibraryVersion() string {
	maj, min, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", maj, min, micro)
}
