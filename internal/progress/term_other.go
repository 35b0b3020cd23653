//go:build !linux

package progress

import "os"

// isTerminal: bars are drawn on Linux terminals only; elsewhere Auto is
// Plain.
func isTerminal(*os.File) bool { return false }
