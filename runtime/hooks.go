package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runHooks runs hooks in order (config.md "POSIX-platform Hooks"), each
// with the container's state on stdin, and stops at the first failure,
// except for poststop hooks: runtime.md's lifecycle step 12 has a failing
// poststop hook logged as a warning while "the remaining hooks and
// lifecycle continue", so those all run and their errors are joined. The
// error names the hook kind and path and carries the hook's stderr on one
// line. As with runc, hooks run in the bundle directory, except
// startContainer hooks, which run inside the container.
func runHooks(ctx context.Context, kind string, hooks []specs.Hook, st *specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("%s hook: encode state: %w", kind, err)
	}
	dir := st.Bundle
	if kind == "startContainer" {
		dir = ""
	}
	var errs []error
	for _, h := range hooks {
		if err := runHook(ctx, h, data, dir); err != nil {
			err = fmt.Errorf("%s hook %s: %w", kind, h.Path, err)
			if kind != "poststop" {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func runHook(ctx context.Context, h specs.Hook, state []byte, dir string) error {
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return errors.New("timeout must be greater than zero")
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	// The hook's environment is exactly hook.env (execv semantics).
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout = &limitedBuffer{b: &out, n: 4096}
	cmd.Stderr = cmd.Stdout
	// A hook that forks a daemon holding stdout open must not hang us.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if msg := oneLine(out.String()); msg != "" {
		return fmt.Errorf("%w: %s", err, msg)
	}
	return err
}

// limitedBuffer keeps the first n bytes written and discards the rest.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		if len(p) > room {
			l.b.Write(p[:room])
		} else {
			l.b.Write(p)
		}
	}
	return len(p), nil
}
