//go:build !unix

package validate

import "context"

// lockShared is a no-op where flock(2) does not exist: package layout does
// not lock there either.
func lockShared(context.Context, string) (func(), error) { return func() {}, nil }
