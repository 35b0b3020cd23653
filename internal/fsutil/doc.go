// Package fsutil holds the file helpers every ocikit package shares, so
// that each has one implementation with one durability contract: atomic
// replacement of a file (WriteFile), whole-file locks across processes
// (Lock, TryLock), reads capped in size (ReadFileLimit) and reads that stop
// with their context (ContextReader).
package fsutil
