package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interruptContext is the context every command runs with: SIGINT or
// SIGTERM cancels it. The signals are caught only once something waits on
// the context or polls it (its Done or Err is called: an image copy, a
// layer's unpack, the events loop, a hook's exec.CommandContext, a
// context.WithTimeout derived from it); until then they end the process
// as they would without a handler, as runc's commands do. Catching them costs every process the os/signal
// goroutine and its handoff, two threads more and about 30 page faults
// (~0.3 ms here), which the commands that never wait on the context
// (state, kill, most creates and deletes) have no use for.
type interruptContext struct {
	context.Context // cancelled by cancel
	cancel          context.CancelFunc
	once            sync.Once
	sigs            chan os.Signal // nil until catch
}

func newInterruptContext(parent context.Context) *interruptContext {
	ctx, cancel := context.WithCancel(parent)
	return &interruptContext{Context: ctx, cancel: cancel}
}

// Done starts catching SIGINT and SIGTERM, the first time.
func (c *interruptContext) Done() <-chan struct{} {
	c.catch()
	return c.Context.Done()
}

// Err starts catching SIGINT and SIGTERM, the first time: code that polls
// Err between steps (a layer's unpack, a blob's copy) stops at the next
// one and cleans up.
func (c *interruptContext) Err() error {
	c.catch()
	return c.Context.Err()
}

func (c *interruptContext) catch() {
	c.once.Do(func() {
		c.sigs = make(chan os.Signal, 1)
		signal.Notify(c.sigs, os.Interrupt, syscall.SIGTERM)
		go func() {
			select {
			case <-c.sigs:
				c.cancel()
			case <-c.Context.Done():
			}
		}()
	})
}

// stop cancels the context and restores the signals' default handling.
func (c *interruptContext) stop() {
	c.cancel()
	c.once.Do(func() {}) // no catching from now on
	if c.sigs != nil {
		signal.Stop(c.sigs)
	}
}
