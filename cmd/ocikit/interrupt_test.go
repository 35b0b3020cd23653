package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestInterruptContext runs itself as a helper process that sends itself
// SIGTERM: with nothing waiting on the command's context the signal ends
// the process (as runc's commands end); once something waits (Done was
// called) it cancels the context instead.
func TestInterruptContext(t *testing.T) {
	if mode := os.Getenv("OCIKIT_TEST_INTERRUPT"); mode != "" {
		interruptHelper(mode)
		return
	}
	tests := []struct {
		mode     string
		signaled bool // killed by SIGTERM; else exits 0 with the context cancelled
	}{
		{"idle", true},
		{"waiting", false},
		{"derived", false},
		{"polling", false},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptContext$", "-test.count=1")
			cmd.Env = append(os.Environ(), "OCIKIT_TEST_INTERRUPT="+tt.mode)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			switch {
			case tt.signaled:
				if !errors.As(err, &ee) {
					t.Fatalf("helper: %v, want killed by SIGTERM: %s", err, out)
				}
				if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
					t.Fatalf("helper ended with %v, want killed by SIGTERM: %s", ws, out)
				}
			case err != nil:
				t.Fatalf("helper: %v: %s", err, out)
			}
		})
	}
}

func interruptHelper(mode string) {
	ctx := newInterruptContext(context.Background())
	defer ctx.stop()
	var wait <-chan struct{}
	switch mode {
	case "waiting":
		wait = ctx.Done()
	case "derived":
		d, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		wait = d.Done()
	}
	if mode == "polling" {
		ctx.Err()
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		for ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		return
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	if wait == nil {
		time.Sleep(time.Minute) // the signal ends the process first
		fmt.Println("survived SIGTERM")
		os.Exit(3)
	}
	<-wait
	if !errors.Is(ctx.Err(), context.Canceled) {
		fmt.Println("context:", ctx.Err())
		os.Exit(4)
	}
}
