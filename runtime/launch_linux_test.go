package runtime

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

// The launcher starts its process without os/exec (child): the same
// stdio defaults, descriptor layout and exit errors.
func TestChildStartWait(t *testing.T) {
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skip("no /bin/sh")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tests := []struct {
		name   string
		script string
		stdout *os.File
		want   string // wait's error, "" for none
		output string // what the script wrote to fd 3
	}{
		{"exit 0", "exit 0", nil, "", ""},
		{"exit status", "exit 3", nil, "exit status 3", ""},
		{"signal", "kill -9 $$", nil, "signal: killed", ""},
		// Unset stdio is /dev/null (os/exec's default); extra files
		// follow stdio from descriptor 3.
		{"stdio and extra files", `readlink /proc/self/fd/0 >&3; readlink /proc/self/fd/2 >&3`, nil, "", "/dev/null\n/dev/null\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &child{path: sh, args: []string{"sh", "-c", tt.script}, env: []string{"PATH=/usr/bin:/bin"}}
			if err := c.start([]*os.File{w}, &syscall.SysProcAttr{}); err != nil {
				t.Fatal(err)
			}
			err := c.wait()
			if got := errString(err); got != tt.want {
				t.Fatalf("wait: %q, want %q", got, tt.want)
			}
			if tt.output != "" {
				buf := make([]byte, 256)
				n, _ := r.Read(buf)
				if got := string(buf[:n]); got != tt.output {
					t.Fatalf("output %q, want %q", got, tt.output)
				}
			}
		})
	}
	c := &child{path: "/nonexistent", args: []string{"x"}}
	if err := c.start(nil, &syscall.SysProcAttr{}); err == nil || !strings.Contains(err.Error(), "fork/exec /nonexistent") {
		t.Fatalf("start of a missing program: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
