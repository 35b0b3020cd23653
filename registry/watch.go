package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// errStalled ends a transfer whose server sent nothing for the timeout.
var errStalled = errors.New("server stalled")

// watch bounds the pauses of a response body (a slow-loris server): it
// returns a context for the request, a wrapper for the response's body,
// and the context's cancel. Once wrapped, a body that yields nothing for
// the timeout fails with errStalled, as does waiting for the headers (the
// transport's ResponseHeaderTimeout, and here too for a custom one).
func (r *Repository) watch(ctx context.Context) (context.Context, func(io.ReadCloser) io.ReadCloser, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	d := r.o.timeout
	t := time.AfterFunc(d, func() { cancel(errStalled) })
	stop := func() { t.Stop(); cancel(context.Canceled) }
	wrap := func(rc io.ReadCloser) io.ReadCloser {
		t.Reset(d)
		return &watchedBody{rc: rc, ctx: ctx, t: t, d: d}
	}
	return ctx, wrap, stop
}

type watchedBody struct {
	rc   io.ReadCloser
	ctx  context.Context
	t    *time.Timer
	d    time.Duration
	once sync.Once
}

func (w *watchedBody) Read(p []byte) (int, error) {
	n, err := w.rc.Read(p)
	if n > 0 {
		w.t.Reset(w.d)
	}
	if err != nil && err != io.EOF {
		if cause := context.Cause(w.ctx); errors.Is(cause, errStalled) {
			err = fmt.Errorf("no data for %s: %w", w.d, errStalled)
		}
	}
	return n, err
}

func (w *watchedBody) Close() error {
	w.once.Do(func() { w.t.Stop() })
	return w.rc.Close()
}

// stalled rewrites a request error caused by the watch's timer.
// The transport's ResponseHeaderTimeout has the same length as the watch's
// timer and may fire first: its timeout error is the same stall.
func stalled(ctx context.Context, err error, d time.Duration) error {
	if err == nil || errors.Is(err, errStalled) {
		return err
	}
	var ne net.Error
	if errors.Is(context.Cause(ctx), errStalled) || (errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil) {
		return fmt.Errorf("no answer for %s: %w", d, errStalled)
	}
	return err
}
