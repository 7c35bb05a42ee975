package executor

import (
	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/vtable"
)

// Future is a future written in Go: the Go mirror of awake_future.
//
// Poll advances it. It returns ready=false after arranging for cx.Waker() (or
// a clone of it) to be woken when progress is possible, and ready=true with
// the result when done. Poll is never called again after it returned ready,
// never called concurrently, and always called on the same worker. It must
// not block.
type Future interface {
	Poll(cx *Context) (ready bool, value any, err error)
}

// Dropper is implemented by futures that hold resources: Drop is called
// exactly once when the task ends, whether the future completed, failed, was
// cancelled or was still pending when the executor closed.
type Dropper interface {
	Drop()
}

// Canceler is implemented by futures that can stop early. Cancel asks the
// future to stop and reports whether it will: the executor then polls it
// again, and it should return (ready=true, err=ErrCancelled) or finish
// normally. When Cancel returns false, or a future lacks the method, the
// task is dropped at once.
type Canceler interface {
	Cancel() bool
}

// FutureFunc adapts a poll function to Future.
type FutureFunc func(cx *Context) (ready bool, value any, err error)

// Poll calls f.
func (f FutureFunc) Poll(cx *Context) (bool, any, error) { return f(cx) }

// Context is what a Go future's Poll receives: the task's waker and the
// worker's reactor. Borrowed for one poll only.
type Context struct {
	w *worker
	t *task
}

// Waker returns the task's waker, borrowed: Clone it to keep it.
func (cx *Context) Waker() Waker { return Waker{cx.t.waker()} }

// TaskID returns the id of the task being polled.
func (cx *Context) TaskID() uint64 { return cx.t.id }

// Waker is a handle to an awake_waker: the host's own (runtime-free) or a
// foreign one given by C code.
type Waker struct{ w abi.Waker }

// WakerFromABI wraps an owned or borrowed C waker.
func WakerFromABI(w abi.Waker) Waker { return Waker{w} }

// ABI returns the C representation.
func (w Waker) ABI() abi.Waker { return w.w }

// Clone returns a new owned reference.
func (w Waker) Clone() Waker { return Waker{vtable.Clone(w.w)} }

// Wake wakes the task and releases this reference.
func (w Waker) Wake() { vtable.Wake(w.w) }

// WakeByRef wakes the task and keeps this reference.
func (w Waker) WakeByRef() { vtable.WakeByRef(w.w) }

// Drop releases this reference.
func (w Waker) Drop() { vtable.Drop(w.w) }

// WillWake reports whether w and o wake the same task (both words equal).
func (w Waker) WillWake(o Waker) bool { return w.w == o.w }

// IsZero reports whether w holds no waker.
func (w Waker) IsZero() bool { return w.w.Vtable == nil }
