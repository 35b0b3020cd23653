package rootfs

import (
	"errors"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountOpts is the parsed "options" of one spec mount.
type mountOpts struct {
	flags       uintptr        // mount(2) flags (MS_*), bind/rbind included
	clear       uintptr        // flags explicitly cleared (rw, suid, dev, ...)
	propagation []uintptr      // MS_PRIVATE, MS_SHARED|MS_REC, ... in order
	recAttr     unix.MountAttr // mount_setattr(AT_RECURSIVE) for r* options
	data        []string       // unknown options: filesystem-specific data
	idmap       bool
	ridmap      bool
	tmpcopyup   bool
}

func (o *mountOpts) bind() bool { return o.flags&unix.MS_BIND != 0 }
func (o *mountOpts) rec() bool  { return o.flags&unix.MS_REC != 0 }

// flagOpts are the filesystem-independent options of mount(8)
// (config.md "Linux mount options", footnote 1).
var flagOpts = map[string]struct {
	clear bool
	flag  uintptr
}{
	"async":         {true, unix.MS_SYNCHRONOUS},
	"atime":         {true, unix.MS_NOATIME},
	"bind":          {false, unix.MS_BIND},
	"defaults":      {false, 0},
	"dev":           {true, unix.MS_NODEV},
	"diratime":      {true, unix.MS_NODIRATIME},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"exec":          {true, unix.MS_NOEXEC},
	"iversion":      {false, unix.MS_I_VERSION},
	"lazytime":      {false, unix.MS_LAZYTIME},
	"loud":          {true, unix.MS_SILENT},
	"mand":          {false, unix.MS_MANDLOCK},
	"noatime":       {false, unix.MS_NOATIME},
	"nodev":         {false, unix.MS_NODEV},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"noexec":        {false, unix.MS_NOEXEC},
	"noiversion":    {true, unix.MS_I_VERSION},
	"nolazytime":    {true, unix.MS_LAZYTIME},
	"nomand":        {true, unix.MS_MANDLOCK},
	"norelatime":    {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"nosuid":        {false, unix.MS_NOSUID},
	"nosymfollow":   {false, unix.MS_NOSYMFOLLOW},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"remount":       {false, unix.MS_REMOUNT},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"silent":        {false, unix.MS_SILENT},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"suid":          {true, unix.MS_NOSUID},
	"symfollow":     {true, unix.MS_NOSYMFOLLOW},
	"sync":          {false, unix.MS_SYNCHRONOUS},
}

// atimeFlags are mutually exclusive in mount(2): the last one given wins,
// as with mount(8).
const atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// propagationOpts are applied with a separate mount(2) call after the mount
// itself (mount(2): a propagation change must be the only operation).
var propagationOpts = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// recursiveOpts are the AT_RECURSIVE options of config.md (footnote 3),
// applied with mount_setattr(2) to the whole mount tree.
//
// The atime modes are an enumeration in mount_setattr: changing one needs
// MOUNT_ATTR__ATIME in attr_clr and the new mode in attr_set. The negative
// forms therefore select the kernel's default for "not that mode": ratime
// and rnostrictatime select relatime, rnorelatime selects strictatime.
var recursiveOpts = map[string]struct {
	clear bool
	attr  uint64
	atime bool // attr is an atime mode
}{
	"rro":            {false, unix.MOUNT_ATTR_RDONLY, false},
	"rrw":            {true, unix.MOUNT_ATTR_RDONLY, false},
	"rnosuid":        {false, unix.MOUNT_ATTR_NOSUID, false},
	"rsuid":          {true, unix.MOUNT_ATTR_NOSUID, false},
	"rnodev":         {false, unix.MOUNT_ATTR_NODEV, false},
	"rdev":           {true, unix.MOUNT_ATTR_NODEV, false},
	"rnoexec":        {false, unix.MOUNT_ATTR_NOEXEC, false},
	"rexec":          {true, unix.MOUNT_ATTR_NOEXEC, false},
	"rnodiratime":    {false, unix.MOUNT_ATTR_NODIRATIME, false},
	"rdiratime":      {true, unix.MOUNT_ATTR_NODIRATIME, false},
	"rnosymfollow":   {false, unix.MOUNT_ATTR_NOSYMFOLLOW, false},
	"rsymfollow":     {true, unix.MOUNT_ATTR_NOSYMFOLLOW, false},
	"rnoatime":       {false, unix.MOUNT_ATTR_NOATIME, true},
	"ratime":         {false, unix.MOUNT_ATTR_RELATIME, true},
	"rrelatime":      {false, unix.MOUNT_ATTR_RELATIME, true},
	"rnorelatime":    {false, unix.MOUNT_ATTR_STRICTATIME, true},
	"rstrictatime":   {false, unix.MOUNT_ATTR_STRICTATIME, true},
	"rnostrictatime": {false, unix.MOUNT_ATTR_RELATIME, true},
}

// extraOpts are the options handled by ocikit itself and never passed to
// mount(2).
var extraOpts = []string{"idmap", "ridmap", "tmpcopyup"}

// MountOptions returns every mount option string Prepare understands, sorted,
// for the `features` command (features.md "mountOptions").
func MountOptions() []string {
	var out []string
	for k := range flagOpts {
		out = append(out, k)
	}
	for k := range propagationOpts {
		out = append(out, k)
	}
	for k := range recursiveOpts {
		out = append(out, k)
	}
	out = append(out, extraOpts...)
	slices.Sort(out)
	return out
}

// parseOptions splits a spec mount's options into mount(2) flags, the
// propagation changes, the recursive attributes and the filesystem-specific
// data. Unknown strings are data (config.md: "Runtimes SHOULD treat unknown
// options as filesystem-specific ones").
func parseOptions(options []string) (*mountOpts, error) {
	o := &mountOpts{}
	for _, opt := range options {
		if f, ok := flagOpts[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
				o.clear |= f.flag
			} else {
				if f.flag&atimeFlags != 0 {
					o.flags &^= atimeFlags
				}
				o.flags |= f.flag
				o.clear &^= f.flag
			}
			continue
		}
		if p, ok := propagationOpts[opt]; ok {
			o.propagation = append(o.propagation, p)
			continue
		}
		if r, ok := recursiveOpts[opt]; ok {
			switch {
			case r.atime:
				o.recAttr.Attr_clr |= unix.MOUNT_ATTR__ATIME
				o.recAttr.Attr_set = o.recAttr.Attr_set&^unix.MOUNT_ATTR__ATIME | r.attr
			case r.clear:
				o.recAttr.Attr_clr |= r.attr
				o.recAttr.Attr_set &^= r.attr
			default:
				o.recAttr.Attr_set |= r.attr
				o.recAttr.Attr_clr &^= r.attr
			}
			continue
		}
		switch opt {
		case "idmap":
			o.idmap = true
		case "ridmap":
			o.ridmap = true
		case "tmpcopyup":
			o.tmpcopyup = true
		case "":
			return nil, errors.New("empty option")
		default:
			o.data = append(o.data, opt)
		}
	}
	return o, nil
}

// hasRecAttr reports whether mount_setattr must run for the r* options.
func (o *mountOpts) dataString() string { return strings.Join(o.data, ",") }

func (o *mountOpts) hasRecAttr() bool {
	return o.recAttr.Attr_set != 0 || o.recAttr.Attr_clr != 0
}

// parseMount parses a spec mount's options. A mount of type "bind" without
// bind or rbind is an rbind, as with runc and crun (config.md only names
// the options; configurations written for Docker rely on the type).
func parseMount(m *specs.Mount) (*mountOpts, error) {
	o, err := parseOptions(m.Options)
	if err != nil {
		return nil, err
	}
	if m.Type == "bind" && !o.bind() {
		o.flags |= unix.MS_BIND | unix.MS_REC
	}
	return o, nil
}
