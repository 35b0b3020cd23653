package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Ps runs ps(1) on the host with args (default -ef) and keeps its header
// and the lines of the processes in pids, as runc's ps does. The output
// must have a PID column.
func Ps(ctx context.Context, pids []int, args []string) ([]byte, error) {
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ps", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := oneLine(stderr.String()); msg != "" {
			return nil, fmt.Errorf("ps %s: %s", strings.Join(args, " "), msg)
		}
		return nil, fmt.Errorf("ps %s: %w", strings.Join(args, " "), err)
	}
	return FilterPs(out, pids)
}

// ProcessTable is Ps of the container's processes (Pids): runc's ps
// table.
func (r *Runtime) ProcessTable(ctx context.Context, id string, args []string) ([]byte, error) {
	pids, err := r.Pids(ctx, id)
	if err != nil {
		return nil, err
	}
	return Ps(ctx, pids, args)
}

// FilterPs keeps the header of ps output and the lines whose PID column
// holds one of pids.
func FilterPs(out []byte, pids []int) ([]byte, error) {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil, errors.New("ps: no output")
	}
	col := -1
	for i, f := range strings.Fields(lines[0]) {
		if f == "PID" {
			col = i
			break
		}
	}
	if col < 0 {
		return nil, errors.New("ps: no PID column in the output (its options must keep it)")
	}
	want := make(map[int]bool, len(pids))
	for _, p := range pids {
		want[p] = true
	}
	var b bytes.Buffer
	b.WriteString(lines[0])
	b.WriteByte('\n')
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		if p, err := strconv.Atoi(f[col]); err == nil && want[p] {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), nil
}
