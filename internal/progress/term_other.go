//go:build !linux

package progress

import "os"

// terminalWidth: bars are drawn on Linux terminals only; elsewhere Auto is
// Plain.
func terminalWidth(*os.File) (int, bool) { return 0, false }
