package vm

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The host's monitor and the guest's agent talk over one virtio-serial
// port, a byte stream both ways, in frames: a kind byte, a stream number
// (0 is the container's init, 1 and up one exec'd process each) and a
// length-prefixed payload. One port for everything keeps the qemu command
// line fixed however many processes exec adds.
const (
	kindReady    byte = 'R' // guest → host: the agent runs, the share is mounted
	kindCreate   byte = 'C' // host → guest: createRequest (JSON)
	kindStart    byte = 'S' // host → guest: start the init's program
	kindExec     byte = 'E' // host → guest: execRequest (JSON) on a new stream
	kindSignal   byte = 'K' // host → guest: signal number (decimal) for the stream's process
	kindStdin    byte = 'i' // host → guest: bytes for the stream's stdin
	kindStdinEOF byte = 'I' // host → guest: the stream's stdin ends
	kindStdout   byte = 'o' // guest → host: bytes of the stream's stdout
	kindStderr   byte = 'e' // guest → host: bytes of the stream's stderr
	kindReply    byte = 'r' // guest → host: reply (JSON) to create, start or exec
	kindExit     byte = 'x' // guest → host: the stream's exit status (decimal), after its output
	kindQuery    byte = 'Q' // host → guest: queryRequest (JSON) on a new stream; answered by a reply
	kindEvent    byte = 'v' // guest → host: one runtime.Event (JSON) of an events query, before its reply
	kindCancel   byte = 'X' // host → guest: end the stream's events query
)

// queryRequest asks the guest's runtime about, or to change, the
// container: its processes ("ps", with PsArgs for ps(1) and Table when a
// table is wanted), its cgroup statistics ("stats"), a stream of them
// with OOM events ("events", every Interval, until cancelled), new
// resources ("update"), or its cgroup freezer ("pause", "resume").
type queryRequest struct {
	Op        string                `json:"op"`
	PsArgs    []string              `json:"psArgs,omitempty"`
	Table     bool                  `json:"table,omitempty"`
	Interval  time.Duration         `json:"interval,omitempty"`
	Resources *specs.LinuxResources `json:"resources,omitempty"`
}

// psResult is the answer to "ps": the container's pids in the guest and,
// when asked, ps(1)'s table of them.
type psResult struct {
	Pids  []int  `json:"pids"`
	Table []byte `json:"table,omitempty"`
}

// maxFrame bounds a payload: a configuration or a chunk of output.
const maxFrame = 16 << 20

const headerLen = 9

type frame struct {
	kind   byte
	stream uint32
	data   []byte
}

// reply is the guest's answer to create, start, exec and a query: the
// error (one line naming the step), or the process's pid in the guest, or
// the query's answer.
type reply struct {
	Error string          `json:"error,omitempty"`
	Pid   int             `json:"pid,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"` // a query's answer
}

// frameWriter writes whole frames from any goroutine.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (fw *frameWriter) write(kind byte, stream uint32, data []byte) error {
	if len(data) > maxFrame {
		return fmt.Errorf("vm: frame of %d bytes exceeds %d", len(data), maxFrame)
	}
	var h [headerLen]byte
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:5], stream)
	binary.BigEndian.PutUint32(h[5:9], uint32(len(data)))
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if _, err := fw.w.Write(h[:]); err != nil {
		return err
	}
	if len(data) > 0 {
		if _, err := fw.w.Write(data); err != nil {
			return err
		}
	}
	return nil
}

func (fw *frameWriter) writeInt(kind byte, stream uint32, n int) error {
	return fw.write(kind, stream, []byte(strconv.Itoa(n)))
}

// errFrameTooLarge is a corrupt or hostile stream.
var errFrameTooLarge = errors.New("vm: frame too large")

func readFrame(r *bufio.Reader) (frame, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	n := binary.BigEndian.Uint32(h[5:9])
	if n > maxFrame {
		return frame{}, errFrameTooLarge
	}
	f := frame{kind: h[0], stream: binary.BigEndian.Uint32(h[1:5])}
	if n > 0 {
		f.data = make([]byte, n)
		if _, err := io.ReadFull(r, f.data); err != nil {
			return frame{}, fmt.Errorf("vm: truncated frame: %w", err)
		}
	}
	return f, nil
}

// pump copies r into frames of kind on stream until r ends.
func pump(fw *frameWriter, kind byte, stream uint32, r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if werr := fw.write(kind, stream, buf[:n]); werr != nil {
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
