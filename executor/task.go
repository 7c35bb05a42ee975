package executor

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/awake-rt/awake/abi"
)

// task is one spawned future; its handle (JoinHandle) is the same memory.
// Fields without a comment are touched only by the owning worker. The
// struct is kept at 64 bytes (memory per pending task): with a Foreign it
// makes one 112-byte object (foreignTask).
type task struct {
	id    uint64
	namep *string // the name, shared with the Foreign or the spawn option; nil: none
	fut   Future
	w     *worker // set before the task is published, never changed
	cell  uintptr // the task's own reference to its host waker cell (made by w: adopt); 0: none yet

	done atomic.Pointer[doneState] // nil while nobody waits and it runs

	cancelReq atomic.Bool // set by Cancel from any goroutine
	cancelled bool        // Cancel was delivered to the future
	scheduled bool        // in the worker's runnable list
	finished  bool
	unmade    bool // a foreignTask whose worker has yet to make its future (SpawnMake)
}

// foreignTask is a task and its C future in one allocation
// (Executor.SpawnMake, SpawnMakeBatch).
type foreignTask struct {
	task
	f Foreign
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

// doneEmpty is the shared completion of every task that finished with no
// value and no error (a C future with no output): no allocation for them.
var doneEmpty = &doneState{ch: closedCh, final: true}

// markDone publishes the result and wakes waiters.
func (t *task) markDone(v any, err error) {
	ds := doneEmpty
	if v != nil || err != nil {
		ds = &doneState{ch: closedCh, res: result{v, err}, final: true}
	}
	if old := t.done.Swap(ds); old != nil && !old.final {
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
// A handle is its task's own memory (no allocation of its own).
type JoinHandle task

// handle returns t's JoinHandle.
func (t *task) handle() *JoinHandle { return (*JoinHandle)(t) }

func (h *JoinHandle) task() *task { return (*task)(h) }

// waker returns the task's own host waker (its worker's reference).
func (t *task) waker() abi.Waker { return abi.Waker{Data: t.cell, Vtable: t.w.hostVt} }

// ID returns the task id.
func (h *JoinHandle) ID() uint64 { return h.id }

// Done is closed when the task has finished (completed, failed, cancelled
// or dropped by Close).
func (h *JoinHandle) Done() <-chan struct{} { return h.task().doneChan() }

// Finished reports whether the task has finished (then Result is valid),
// without making a Done channel.
func (h *JoinHandle) Finished() bool { return h.task().isDone() }

// Result returns the task's value and error; valid once Done is closed.
func (h *JoinHandle) Result() (any, error) {
	t := h.task()
	if t.isDone() {
		return t.result()
	}
	return nil, fmt.Errorf("awake: task %d (%s) has not finished; wait on Done() or call Await", t.id, t.label())
}

// Await blocks until the task finishes or ctx ends. When ctx ends first the
// task is cancelled (its future is asked to stop, or dropped) and Await
// returns ctx's error.
func (h *JoinHandle) Await(ctx context.Context) (any, error) {
	t := h.task()
	if t.isDone() {
		return t.result()
	}
	select {
	case <-t.doneChan():
		return t.result()
	case <-ctx.Done():
		h.Cancel()
		return nil, fmt.Errorf("awake: awaiting task %d (%s): %w (the task was cancelled)", t.id, t.label(), ctx.Err())
	}
}

// Cancel asks the task to stop. A future with a cancel function is polled
// once more to finish cleanly; any other is dropped. Await then returns
// ErrCancelled (unless the task had already finished). Safe to call more than
// once and from any goroutine.
func (h *JoinHandle) Cancel() {
	t := h.task()
	if t.cancelReq.Swap(true) {
		return
	}
	t.w.post(op{kind: opCancel, t: t})
}
