// Command ocikit implements the Open Container Initiative specifications:
// an OCI runtime compatible with runc's command line, an OCI image-layout
// store with layer unpack and repack, and validation of both specifications'
// documents.
//
// This package holds no logic: each command lives in its own file and calls
// the library packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ocikit/ocikit/runtime"
	"github.com/ocikit/ocikit/runtime/vm"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "init" {
		// The container init that create re-executes: straight to the
		// runtime, without building the command tree, which every
		// container's start would wait for (see newInitCmd).
		runtime.Init()
		os.Exit(1)
	}
	if len(os.Args) >= 2 && os.Args[1] == "vm-agent" && os.Getpid() == 1 {
		// The guest's init, started by the kernel (package vm).
		vm.Agent()
	}
	if len(os.Args) == 3 && os.Args[1] == "vm-monitor" {
		// The host's monitor of a VM container, started by create.
		vm.Monitor(os.Args[2])
	}
	if len(os.Args) == 3 && os.Args[1] == "vm-jail-proc" {
		// Mounts the /proc of qemu's pid namespace in its jail (package vm).
		vm.JailProc(os.Args[2])
	}
	if len(os.Args) == 2 && os.Args[1] == "vm-exec-wait" {
		// The host process of a detached exec in a VM container.
		vm.ExecWait()
	}
	os.Exit(run())
}

func run() int {
	ctx := newInterruptContext(context.Background())
	defer ctx.stop()
	g := &globals{}
	root := newRootCmd(g)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			g.reportError(ee.err)
		}
		return ee.code
	}
	g.reportError(err)
	return 1
}

// exitError carries a specific exit status out of a command (for example
// `validate` exits 1 on an invalid document, `run` passes the container's
// status through). A nil err means the command already reported.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }
