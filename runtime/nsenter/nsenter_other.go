//go:build !linux || !cgo

package nsenter
