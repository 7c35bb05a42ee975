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
	id    uint64
	namep *string // the name, shared with the Foreign or the spawn option; nil: none
	fut   Future
	waker abi.Waker // the task's own reference to its host waker cell

	done atomic.Pointer[doneState] // nil while nobody waits and it runs

	cancelReq atomic.Bool // set by Cancel from any goroutine
	cancelled bool        // Cancel was delivered to the future
	scheduled bool        // in the worker's runnable list
	finished  bool
}

// result is a finished task's outcome.
type result struct {
	value any
	err   error
}

// doneState is a task's completion: made by the first waiter while the task
// runs (its channel is closed at the end), or at the end with the result.
// Most tasks are never waited on while running, so a pending task carries
// neither a channel nor a result (memory per pending task).
type doneState struct {
	ch    chan struct{}
	res   result
	final bool // res is valid, ch is closed
}

var closedCh = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// doneChan returns a channel closed when t finishes.
func (t *task) doneChan() <-chan struct{} {
	for {
		if p := t.done.Load(); p != nil {
			return p.ch
		}
		ds := &doneState{ch: make(chan struct{})}
		if t.done.CompareAndSwap(nil, ds) {
			return ds.ch
		}
	}
}

// markDone publishes the result and wakes waiters.
func (t *task) markDone(v any, err error) {
	if old := t.done.Swap(&doneState{ch: closedCh, res: result{v, err}, final: true}); old != nil && !old.final {
		close(old.ch)
	}
}

// isDone reports whether the task finished (its result is readable).
func (t *task) isDone() bool {
	p := t.done.Load()
	return p != nil && p.final
}

func (t *task) result() (any, error) {
	r := t.done.Load().res
	return r.value, r.err
}

// label is the task's name: "plugin/export" for plugin futures.
func (t *task) label() string {
	if t.namep == nil {
		return ""
	}
	return *t.namep
}

// JoinHandle waits for a spawned task. It may be used from any goroutine.
type JoinHandle struct {
	t *task
	w *worker // the task's worker (kept here, not in the task: memory)
}

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
		return h.t.result()
	}
	return nil, fmt.Errorf("awake: task %d (%s) has not finished; wait on Done() or call Await", h.t.id, h.t.label())
}

// Await blocks until the task finishes or ctx ends. When ctx ends first the
// task is cancelled (its future is asked to stop, or dropped) and Await
// returns ctx's error.
func (h *JoinHandle) Await(ctx context.Context) (any, error) {
	if h.t.isDone() {
		return h.t.result()
	}
	select {
	case <-h.t.doneChan():
		return h.t.result()
	case <-ctx.Done():
		h.Cancel()
		return nil, fmt.Errorf("awake: awaiting task %d (%s): %w (the task was cancelled)", h.t.id, h.t.label(), ctx.Err())
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
	h.w.post(op{kind: opCancel, t: h.t})
}
