// Package vm runs a container inside a virtual machine of its own, behind
// the same lifecycle as package runtime (`ocikit --vm`, or the binary
// invoked as ocikit-vm).
//
// The host side (Runtime) keeps the container's state as package runtime
// does, in a directory under the root. Create starts the monitor, a
// re-execution of ocikit (Monitor) whose pid is the container's pid: it
// starts Debian's qemu-system-x86_64 (a microvm with KVM when /dev/kvm
// opens, else a q35 under software emulation) with Debian's kernel and an initramfs holding
// ocikit itself, shares the bundle's root filesystem over virtio-fs
// (virtiofsd, for a writable root where the host has it:
// virtiofs_linux.go) or virtio-9p and talks to the guest over one virtio-serial port (stdio, terminals
// relayed from a host pty, signals, exit statuses). The guest's init is
// ocikit in agent mode (Agent): it mounts a pure cgroup v2 hierarchy and
// the share, and creates, starts, signals and execs into the container
// with package runtime, so namespaces, mounts, cgroups, seccomp and
// capabilities apply inside the guest exactly as on a host. The
// container's exit status is the monitor's, and qemu dies with the
// monitor. qemu runs as an unprivileged user with only the capabilities
// 9p needs (qemuuser_linux.go), chrooted in a jail of its own mount
// namespace that holds only what it opens (jail_linux.go), under its
// seccomp sandbox. The monitor, qemu and virtiofsd live in the
// container's cgroup (linux.cgroupsPath) on the host (cgroup_linux.go).
//
// runc's pause, resume, ps, events and update are queries the monitor
// relays to the agent, which answers them with package runtime from the
// guest's cgroup; pause also stops the VM's vCPUs over QMP (ops_linux.go).
//
// The kernel (Debian's linux-image-amd64 with the virtio, serial, 9p and
// virtio-fs modules the guest needs) is fetched with apt-get once and cached, as is
// the initramfs per ocikit binary (DefaultCacheDir).
package vm
