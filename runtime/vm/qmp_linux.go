package vm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"
)

// qmp is the monitor's connection to qemu's machine protocol (QMP, a JSON
// object a line both ways), which pause and resume use to stop and
// continue the VM's vCPUs.
type qmp struct {
	mu sync.Mutex
	c  net.Conn
	r  *bufio.Reader
}

// qmpTimeout bounds one command: qemu answers stop and cont at once.
const qmpTimeout = 10 * time.Second

// newQMP reads qemu's greeting on c and leaves capabilities negotiation
// mode, after which commands are accepted.
func newQMP(c net.Conn) (*qmp, error) {
	q := &qmp{c: c, r: bufio.NewReader(c)}
	c.SetDeadline(time.Now().Add(qmpTimeout))
	defer c.SetDeadline(time.Time{})
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	line, err := q.r.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &greeting)
	}
	if err == nil && greeting.QMP == nil {
		err = fmt.Errorf("not a greeting: %.80s", line)
	}
	if err != nil {
		return nil, fmt.Errorf("vm: qmp: %w", err)
	}
	if err := q.execute("qmp_capabilities"); err != nil {
		return nil, err
	}
	return q, nil
}

// execute runs a QMP command without arguments and waits for its answer,
// skipping the asynchronous events qemu sends in between (STOP, RESUME).
func (q *qmp) execute(cmd string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.c.SetDeadline(time.Now().Add(qmpTimeout))
	defer q.c.SetDeadline(time.Time{})
	b, _ := json.Marshal(struct {
		Execute string `json:"execute"`
	}{cmd})
	if _, err := q.c.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("vm: qmp %s: %w", cmd, err)
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("vm: qmp %s: %w", cmd, err)
		}
		var m struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("vm: qmp %s: %w", cmd, err)
		}
		switch {
		case m.Error != nil:
			return fmt.Errorf("vm: qmp %s: %s: %s", cmd, m.Error.Class, m.Error.Desc)
		case m.Return != nil:
			return nil
		}
	}
}
