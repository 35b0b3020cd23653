//go:build unix

package layout

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLockShared: the exported shared lock keeps index.json writers and GC
// (the exclusive lock) waiting, lets other readers in, and unlock frees it.
func TestLockShared(t *testing.T) {
	l := newLayout(t)
	ctx := context.Background()
	unlock, err := LockShared(ctx, l.dir)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := LockShared(ctx, l.dir)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	reader()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := l.lock(short, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("exclusive lock while shared is held: err = %v, want DeadlineExceeded", err)
	}
	unlock()
	release, err := l.lock(ctx, true)
	if err != nil {
		t.Fatalf("exclusive lock after unlock: %v", err)
	}
	release()
	if _, err := LockShared(ctx, l.dir+"/missing"); err == nil {
		t.Fatal("LockShared of a missing directory succeeded")
	}
}
