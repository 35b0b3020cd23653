package vm

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Annotations that choose the VM's settings over those derived from the
// configuration.
const (
	AnnotationCPUs        = "org.ocikit.vm.cpus"         // vCPUs, an integer ≥ 1
	AnnotationMemory      = "org.ocikit.vm.memory"       // guest memory: bytes or a K/M/G-suffixed size
	AnnotationKernel      = "org.ocikit.vm.kernel"       // kernel image to boot
	AnnotationInitrd      = "org.ocikit.vm.initrd"       // initramfs to boot (its /init must be ocikit's agent)
	AnnotationBootTimeout = "org.ocikit.vm.boot-timeout" // how long the guest may take to report ready (Go duration or seconds)
)

const (
	// MemoryOverhead is added to linux.resources.memory.limit: the
	// guest kernel, the initramfs (ocikit and its libraries, unpacked)
	// and the agent live in it, outside the container's cgroup.
	MemoryOverhead = 192 << 20
	// DefaultMemory is the guest memory without a memory limit (the
	// overhead included). Under TCG qemu commits only the pages the guest
	// touches, so an idle guest costs far less host memory.
	DefaultMemory = 512 << 20
	// HostMemoryOverhead is added to the guest's memory for the memory
	// limit of the container's cgroup on the host (hostResources), which
	// holds qemu and the monitor: qemu's code and libraries, its device
	// emulation, the page cache of the kernel and initramfs it reads,
	// under TCG its translation cache (tcgCacheMiB) and the monitor.
	HostMemoryOverhead = 256 << 20
	// tcgCacheMiB bounds qemu's TCG translation cache (1 GiB by default,
	// touched as it fills) when the host cgroup limits memory, so that
	// the cache stays within HostMemoryOverhead: qemu flushes it when
	// full.
	tcgCacheMiB = 128
	// maxCPUs bounds the vCPUs a configuration can ask for.
	maxCPUs = 64
)

// settings is what the VM is started with.
type settings struct {
	cpus        int
	memoryMiB   int64
	kernel      string // "" for the cached default
	initrd      string // "" for the cached default
	bootTimeout time.Duration
	// hostMemory is the host cgroup's memory limit (0: none): with a
	// configured memory limit, the guest's memory plus
	// HostMemoryOverhead.
	hostMemory int64
}

// settingsFor derives the VM's size from linux.resources (the memory limit
// plus MemoryOverhead; vCPUs from the cpu quota rounded up, else the number
// of CPUs in cpuset.cpus, else 1), then applies the annotations. kvm
// chooses the default boot timeout: software emulation boots ten times
// slower.
func settingsFor(spec *specs.Spec, kvm bool) (settings, error) {
	s := settings{cpus: 1, memoryMiB: DefaultMemory >> 20, bootTimeout: 10 * time.Second}
	if !kvm {
		s.bootTimeout = 90 * time.Second
	}
	if spec.Linux != nil && spec.Linux.Resources != nil {
		res := spec.Linux.Resources
		if m := res.Memory; m != nil && m.Limit != nil && *m.Limit > 0 {
			s.memoryMiB = (*m.Limit + MemoryOverhead + 1<<20 - 1) >> 20
		}
		if c := res.CPU; c != nil {
			// The quota's share of whole CPUs; a cpuset is applied inside
			// the guest, so the guest needs every CPU it names: at least
			// its highest index + 1 vCPUs.
			if c.Quota != nil && *c.Quota > 0 && c.Period != nil && *c.Period > 0 {
				s.cpus = int(math.Ceil(float64(*c.Quota) / float64(*c.Period)))
			}
			if c.Cpus != "" {
				n, err := cpusetSpan(c.Cpus)
				if err != nil {
					return s, fmt.Errorf("linux.resources.cpu.cpus: %w", err)
				}
				s.cpus = max(s.cpus, n)
			}
		}
	}
	a := spec.Annotations
	if v, ok := a[AnnotationCPUs]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return s, fmt.Errorf("annotation %s=%q: want a positive integer", AnnotationCPUs, v)
		}
		s.cpus = n
	}
	if v, ok := a[AnnotationMemory]; ok {
		b, err := parseSize(v)
		if err != nil || b < 64<<20 {
			return s, fmt.Errorf("annotation %s=%q: want a size of at least 64M", AnnotationMemory, v)
		}
		s.memoryMiB = (b + 1<<20 - 1) >> 20
	}
	if spec.Linux != nil && spec.Linux.Resources != nil {
		if m := spec.Linux.Resources.Memory; m != nil && m.Limit != nil && *m.Limit > 0 {
			s.hostMemory = s.memoryMiB<<20 + HostMemoryOverhead
		}
	}
	if s.cpus > maxCPUs {
		return s, fmt.Errorf("%d vCPUs asked for: at most %d", s.cpus, maxCPUs)
	}
	s.kernel = a[AnnotationKernel]
	s.initrd = a[AnnotationInitrd]
	if v, ok := a[AnnotationBootTimeout]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			secs, serr := strconv.ParseFloat(v, 64)
			if serr != nil {
				return s, fmt.Errorf("annotation %s=%q: want a duration", AnnotationBootTimeout, v)
			}
			d = time.Duration(secs * float64(time.Second))
		}
		if d <= 0 {
			return s, fmt.Errorf("annotation %s=%q: want a positive duration", AnnotationBootTimeout, v)
		}
		s.bootTimeout = d
	}
	return s, nil
}

// cpusetSpan is the highest CPU of a cpuset list ("0-3,6") plus one: the
// CPUs a machine needs for the list to be valid on it.
func cpusetSpan(list string) (int, error) {
	n := 0
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return 0, fmt.Errorf("bad cpu list %q", list)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, fmt.Errorf("bad cpu list %q", list)
			}
		}
		n = max(n, b+1)
	}
	return n, nil
}

// parseSize reads bytes, or a size with a K, M or G suffix (powers of
// 1024, an optional trailing "i" or "B" as in "512MiB").
func parseSize(v string) (int64, error) {
	s := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(v), "B"), "i")
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return n * mult, nil
}

// Where the guest agent finds things; the guest's side of the contract
// the host's qemu command line sets up.
const (
	portName    = "ocikit.ctl" // the virtio-serial port's name
	rootfsTag   = "rootfs"     // the 9p or virtio-fs tag of the bundle's root filesystem
	agentArg    = "vm-agent"   // the init's argument: ocikit in agent mode
	guestSocket = "guest.sock" // in the state directory: qemu's end of the port
	ctlSocket   = "ctl.sock"   // in the state directory: the monitor's control socket
	qmpSocket   = "qmp.sock"   // in the state directory: qemu's QMP (pause, resume)
	vfsSocket   = "vfs.sock"   // in the state directory: virtiofsd's vhost-user socket
	vfsLog      = "virtiofsd.log"
	consoleLog  = "console.log"
	qemuLog     = "qemu.log"
)

// qemuArgs is the qemu command line for a container whose root filesystem
// is rootfs: no network, no default devices, qemu's seccomp sandbox on,
// the serial console to a file in the state directory (qemu runs there)
// for a guest that panics. With KVM a microvm (no firmware, no PCI: its
// virtio-mmio devices are described in ACPI) with the host's CPU; under
// TCG a q35, because a microvm's guest has no timer to calibrate its TSC
// against but the PIT, which fails often on a loaded host and then
// hangs the boot (the q35's HPET and ACPI timer do not).
//
// The root filesystem is a virtio-fs device served by virtiofsd (its
// vhost-user socket in the state directory; guest memory a shared memfd,
// which vhost-user needs) when virtiofs is set, else a 9p share.
func qemuArgs(s settings, kvm bool, kernel, initrd, rootfs string, readonly, virtiofs bool) []string {
	machine, accel, bus, cmdline := "q35", "tcg", "pci", "console=ttyS0 quiet panic=-1"
	if kvm {
		machine, accel, bus, cmdline = "microvm", "kvm", "device", cmdline+" pci=off"
	} else if s.hostMemory > 0 {
		accel += ",tb-size=" + strconv.Itoa(tcgCacheMiB)
	}
	ro := ""
	if readonly {
		ro = ",readonly=on"
	}
	if virtiofs {
		machine += ",memory-backend=mem"
	}
	args := []string{
		"-M", machine, "-accel", accel,
		"-m", strconv.FormatInt(s.memoryMiB, 10), "-smp", strconv.Itoa(s.cpus),
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
		"-serial", "file:" + consoleLog,
		"-kernel", kernel, "-initrd", initrd,
		"-append", cmdline + " -- " + agentArg,
		"-chardev", "socket,id=ctl,path=" + guestSocket,
		"-chardev", "socket,id=qmp,path=" + qmpSocket, "-mon", "chardev=qmp,mode=control",
		"-device", "virtio-serial-" + bus, "-device", "virtserialport,chardev=ctl,name=" + portName,
	}
	if virtiofs {
		args = append(args,
			"-object", "memory-backend-memfd,id=mem,size="+strconv.FormatInt(s.memoryMiB, 10)+"M,share=on",
			"-chardev", "socket,id=vfs,path="+vfsSocket,
			"-device", "vhost-user-fs-"+bus+",chardev=vfs,tag="+rootfsTag)
	} else {
		// passthrough: the guest's file ownership is the host's, so the
		// bundle's root filesystem means the same under --vm as under
		// the plain runtime or runc (mapped-xattr would hide ownership in
		// xattrs that only qemu reads, and cannot read the image's
		// symbolic links). It needs qemu to hold the file capabilities
		// of qemuCaps.
		args = append(args,
			"-fsdev", "local,id=rootfs,path="+strings.ReplaceAll(rootfs, ",", ",,")+",security_model=passthrough"+ro,
			"-device", "virtio-9p-"+bus+",fsdev=rootfs,mount_tag="+rootfsTag)
	}
	if kvm {
		args = append(args, "-cpu", "host")
	}
	return args
}

// checkUpdate refuses new resources a VM of cpus vCPUs and memoryMiB of
// guest memory cannot honour: its size is fixed when it boots, and the
// guest's kernel would accept a memory limit beyond its memory (to no
// effect) and refuse CPUs or memory nodes it lacks with a bare EINVAL.
// Zero cpus or memoryMiB (a state written before they were recorded)
// skips that check.
func checkUpdate(res *specs.LinuxResources, cpus int, memoryMiB int64) error {
	if res == nil {
		return nil
	}
	if m := res.Memory; m != nil && memoryMiB > 0 {
		room := memoryMiB<<20 - MemoryOverhead
		for _, l := range []struct {
			name string
			v    *int64
		}{{"memory limit", m.Limit}, {"memory reservation", m.Reservation}} {
			if l.v != nil && *l.v > 0 && *l.v > room {
				return fmt.Errorf("%s of %d bytes exceeds the %d MiB the VM holds for the container (%d MiB of guest memory less %d MiB overhead, fixed at create)",
					l.name, *l.v, max(room, 0)>>20, memoryMiB, MemoryOverhead>>20)
			}
		}
	}
	if c := res.CPU; c != nil && cpus > 0 {
		if c.Quota != nil && *c.Quota > 0 {
			period := uint64(100000) // the kernel's default cpu.max period
			if c.Period != nil && *c.Period > 0 {
				period = *c.Period
			}
			if n := math.Ceil(float64(*c.Quota) / float64(period)); n > float64(cpus) {
				return fmt.Errorf("a cpu quota of %d per %d µs (%.0f CPUs) exceeds the VM's %d vCPUs (fixed at create)", *c.Quota, period, n, cpus)
			}
		}
		if c.Cpus != "" {
			n, err := cpusetSpan(c.Cpus)
			if err != nil {
				return fmt.Errorf("cpuset cpus: %w", err)
			}
			if n > cpus {
				return fmt.Errorf("cpuset cpus %q names CPU %d: the VM has %d vCPUs (0-%d, fixed at create)", c.Cpus, n-1, cpus, cpus-1)
			}
		}
		if c.Mems != "" {
			n, err := cpusetSpan(c.Mems)
			if err != nil {
				return fmt.Errorf("cpuset mems: %w", err)
			}
			if n > 1 {
				return fmt.Errorf("cpuset mems %q: the VM has one memory node (0)", c.Mems)
			}
		}
	}
	return nil
}
