package runtime

import (
	"time"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/fastjson"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Sentinel errors; callers test them with errors.Is.
var (
	ErrNotFound     = errdefs.New(errdefs.ErrNotFound, "runtime: container does not exist")
	ErrExist        = errdefs.New(errdefs.ErrAlreadyExists, "runtime: container already exists")
	ErrInvalidID    = errdefs.New(errdefs.ErrInvalid, "runtime: invalid container id")
	ErrWrongState   = errdefs.New(errdefs.ErrFailedPrecondition, "runtime: operation not allowed in the container's state")
	ErrInvalidSpec  = errdefs.New(errdefs.ErrInvalid, "runtime: invalid configuration")
	ErrNotSupported = errdefs.New(errdefs.ErrUnsupported, "runtime: not supported on this operating system")
)

// StatePaused is the status of a container whose processes are frozen by
// pause: runc's addition to the statuses of runtime.md "State". The
// container is otherwise running; resume makes it running again.
const StatePaused specs.ContainerState = "paused"

// State is the state of a container as `state` prints it: the fields of
// runtime.md "State" plus those runc adds and its callers read.
type State struct {
	specs.State
	// Rootfs is the absolute path of the container's root filesystem.
	Rootfs string `json:"rootfs"`
	// Created is when the create operation started.
	Created time.Time `json:"created"`
	// Owner is the user owning the container (empty for root, as runc).
	Owner string `json:"owner"`
}

// MarshalJSON writes the state as runc's `state` and `list --format json`
// do: their field order, and "pid" also when 0 (a stopped container),
// where runtime-spec's State omits it. fastjson writes it as encoding/json
// writes a struct of these fields (TestStateMarshalJSON), without building
// and caching a struct encoder, which costs more page faults than `state`
// and `start` otherwise spend here.
func (s State) MarshalJSON() ([]byte, error) {
	return fastjson.Marshal(struct {
		Version     string               `json:"ociVersion"`
		ID          string               `json:"id"`
		Pid         int                  `json:"pid"`
		Status      specs.ContainerState `json:"status"`
		Bundle      string               `json:"bundle"`
		Rootfs      string               `json:"rootfs"`
		Created     time.Time            `json:"created"`
		Annotations map[string]string    `json:"annotations,omitempty"`
		Owner       string               `json:"owner"`
	}{s.Version, s.ID, s.Pid, s.Status, s.Bundle, s.Rootfs, s.Created, s.Annotations, s.Owner})
}

// validID reports whether id is in the set of container ids runc accepts
// (`^[\w+\-.]+$`): a container id names a directory, so no slash, no
// dot-dot, no empty string. A loop, not a regexp: no compilation at package
// initialization, which every ocikit process (the container init too) pays.
func validID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return id != ""
}

// CheckID reports an ErrInvalidID error when id is not a valid container
// id (runc's rules): for runtimes that keep their state beside this one's.
func CheckID(id string) error { return checkID(id) }

func checkID(id string) error {
	if id == "" || id == "." || id == ".." || len(id) > 1024 || !validID(id) {
		return errorf(ErrInvalidID, "invalid container id %q: want letters, digits, _ + - .", id)
	}
	return nil
}
