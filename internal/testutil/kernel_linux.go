package testutil

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// RequireKernel skips the test on a kernel older than major.minor (a
// feature the test relies on came with it).
func RequireKernel(t testing.TB, major, minor int) {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var ma, mi int
	rel := unix.ByteSliceToString(u.Release[:])
	if _, err := fmt.Sscanf(rel, "%d.%d", &ma, &mi); err != nil {
		t.Fatalf("kernel release %q: %v", rel, err)
	}
	if ma < major || (ma == major && mi < minor) {
		t.Skipf("needs Linux %d.%d, this is %s", major, minor, rel)
	}
}
