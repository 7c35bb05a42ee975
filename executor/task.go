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

	// Written by the worker before the task is marked done; read by anyone
	// after.
	value any
	err   error
	done  atomic.Pointer[chan struct{}] // nil, a waiter's channel, or &closedDone

	cancelReq atomic.Bool // set by Cancel from any goroutine
	cancelled bool        // Cancel was delivered to the future
	scheduled bool        // in the worker's runnable list
	finished  bool

	// completion observers registered by the worker (C join futures).
	onDone []func()
}

// closedDone marks a finished task; its channel is closed. The done channel
// of a task is made only when someone waits for it while it runs (most tasks
// are never waited on before they finish): 96 bytes saved per pending task.
var closedDone = func() *chan struct{} {
	c := make(chan struct{})
	close(c)
	return &c
}()

// doneChan returns a channel closed when t finishes.
func (t *task) doneChan() <-chan struct{} {
	for {
		p := t.done.Load()
		if p != nil {
			return *p
		}
		c := make(chan struct{})
		if t.done.CompareAndSwap(nil, &c) {
			return c
		}
	}
}

// markDone publishes the result (written before) and wakes waiters.
func (t *task) markDone() {
	if p := t.done.Swap(closedDone); p != nil && p != closedDone {
		close(*p)
	}
}

// isDone reports whether the task finished (its result is readable).
func (t *task) isDone() bool { return t.done.Load() == closedDone }

// JoinHandle waits for a spawned task. It may be used from any goroutine.
type JoinHandle struct{ t *task }

// ID returns the task id.
func (h *JoinHandle) ID() uint64 { return h.t.id }

// Done is closed when the task has finished (completed, failed, cancelled
// or dropped by Close).
func (h *JoinHandle) Done() <-chan struct{} { return h.t.doneChan() }

// Finished reports whether the task has finished (then Result is valid),
// without making a Done channel.
func (h *JoinHandle) Finished() bool { return h.t.isDone() }

// Result returns the task's value and error; valid once Done is closed.
func (h *JoinHandle) Result() (any, error) {
	if h.t.isDone() {
		return h.t.value, h.t.err
	}
	return nil, fmt.Errorf("awake: task %d (%s) has not finished; wait on Done() or call Await", h.t.id, h.t.name)
}

// Await blocks until the task finishes or ctx ends. When ctx ends first the
// task is cancelled (its future is asked to stop, or dropped) and Await
// returns ctx's error.
func (h *JoinHandle) Await(ctx context.Context) (any, error) {
	if h.t.isDone() {
		return h.t.value, h.t.err
	}
	select {
	case <-h.t.doneChan():
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
