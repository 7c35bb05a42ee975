package executor

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/awake-rt/awake/abi"
)

// task is one spawned future. Fields without a comment are touched only by
// the owning worker.
type task struct {
	id     uint64
	name   string
	fut    Future
	waker  abi.Waker // the task's own reference to its host waker cell
	worker *worker
	polls  uint64

	// Written by the worker before done is closed; read by anyone after.
	value any
	err   error
	done  chan struct{}

	cancelReq atomic.Bool // set by Cancel from any goroutine
	cancelled bool        // Cancel was delivered to the future
	scheduled bool        // in the worker's runnable list
	finished  bool

	// completion observers registered by the worker (C join futures).
	onDone []func()
}

// JoinHandle waits for a spawned task. It may be used from any goroutine.
type JoinHandle struct{ t *task }

// ID returns the task id.
func (h *JoinHandle) ID() uint64 { return h.t.id }

// Done is closed when the task has finished (completed, failed, cancelled
// or dropped by Close).
func (h *JoinHandle) Done() <-chan struct{} { return h.t.done }

// Result returns the task's value and error; valid once Done is closed.
func (h *JoinHandle) Result() (any, error) {
	select {
	case <-h.t.done:
		return h.t.value, h.t.err
	default:
		return nil, fmt.Errorf("awake: task %d (%s) has not finished; wait on Done() or call Await", h.t.id, h.t.name)
	}
}

// Await blocks until the task finishes or ctx ends. When ctx ends first the
// task is cancelled (its future is asked to stop, or dropped) and Await
// returns ctx's error.
func (h *JoinHandle) Await(ctx context.Context) (any, error) {
	select {
	case <-h.t.done:
		return h.t.value, h.t.err
	case <-ctx.Done():
		h.Cancel()
		return nil, fmt.Errorf("awake: awaiting task %d (%s): %w (the task was cancelled)", h.t.id, h.t.name, ctx.Err())
	}
}

// Cancel asks the task to stop. A future with a cancel function is polled
// once more to finish cleanly; any other is dropped. Await then returns
// ErrCancelled (unless the task had already finished). Safe to call more than
// once and from any goroutine.
func (h *JoinHandle) Cancel() {
	if h.t.cancelReq.Swap(true) {
		return
	}
	h.t.worker.post(op{kind: opCancel, t: h.t})
}
