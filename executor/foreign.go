package executor

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/internal/ccall"
	"github.com/awake-rt/awake/internal/cmem"
	"github.com/awake-rt/awake/vtable"
)

// Foreign is a future implemented in C (or any language behind the C ABI),
// typically made by a plugin export. The executor polls it through its
// vtable, passes the task's runtime-free waker in the awake_context, and
// drops it exactly once.
type Foreign struct {
	F    abi.Future
	Name string // "plugin/export", used in errors and logs
	// Owner, if set, releases the future (Owner.DropFuture) instead of a
	// direct call of its vtable's drop: a plugin library uses it to keep its
	// count of live futures. It is called exactly once.
	Owner FutureOwner
}

// FutureOwner releases futures it made (a plugin library).
type FutureOwner interface {
	DropFuture(abi.Future) error
}

// Poll calls the C poll function.
func (f *Foreign) Poll(cx *Context) (bool, any, error) {
	return cx.w.pollForeign(cx.t, f)
}

// Drop releases the future: through its Owner if set, else the C drop
// function.
func (f *Foreign) Drop() {
	switch {
	case f.Owner != nil:
		_ = f.Owner.DropFuture(f.F)
	case f.F.Vtable != nil && f.F.Vtable.Drop != 0:
		ccall.Call1(f.F.Vtable.Drop, f.F.Self)
	}
}

// Cancel calls the C cancel function if the future has one.
func (f *Foreign) Cancel() bool {
	vt := f.F.Vtable
	if vt == nil || vt.Cancel == 0 || uintptr(vt.Size) < unsafe.Offsetof(vt.Cancel)+8 {
		return false
	}
	rc := ccall.Call1(vt.Cancel, f.F.Self)
	return int32(rc) == abi.OK
}

// pollForeign polls one C future on its own (an output too large for a
// batch entry), through entry 0 with a Go buffer for the output.
func (w *worker) pollForeign(t *task, f *Foreign) (bool, any, error) {
	vt := f.F.Vtable
	if vt == nil || vt.Poll == 0 {
		return true, nil, &TaskError{Task: t.id, Name: f.Name, Reason: "the future's vtable or its poll function is NULL"}
	}
	e := w.prepare(0, t, f)
	var pin runtime.Pinner
	big := make([]byte, uintptr(vt.OutputSize)+uintptr(vt.OutputAlign))
	pin.Pin(&big[0])
	defer pin.Unpin()
	out := alignUp(uintptr(unsafe.Pointer(&big[0])), uintptr(vt.OutputAlign))
	w.inPoll = 1
	e.status = int32(w.fr.Call4(vt.Poll, f.F.Self, w.pb.addr(0), out, w.pb.addr(0)+entryErr))
	w.inPoll = 0
	w.flushTimerOps()
	return w.result(t, f, e, out)
}

// prepare fills entry i for polling t's C future f.
func (w *worker) prepare(i int, t *task, f *Foreign) *pollEntry {
	e := w.pb.entry(i)
	e.cx.Host = hostTable()
	e.cx.Waker = t.waker()
	e.poll = f.F.Vtable.Poll
	e.self = f.F.Self
	e.err = 0
	w.inBatch[i] = t
	return e
}

// result turns an entry's status into the task's outcome.
func (w *worker) result(t *task, f *Foreign, e *pollEntry, out uintptr) (bool, any, error) {
	vt := f.F.Vtable
	switch status := e.status; status {
	case abi.Pending:
		return false, nil, nil
	case abi.Ready:
		return true, readOutput(vt, out), nil
	case abi.Error:
		return true, nil, takeError(t, f.Name, e.err)
	case abi.Cancelled:
		return true, nil, ErrCancelled
	case abi.Misuse:
		return true, nil, &TaskError{Task: t.id, Name: f.Name, Code: status,
			Reason: "the future returned AWAKE_MISUSE (it says it was polled after it finished); this is a host bug or a plugin bug, please report it"}
	default:
		return true, nil, &TaskError{Task: t.id, Name: f.Name, Code: status,
			Reason: fmt.Sprintf("poll returned %d, which is not an awake status (0 PENDING, 1 READY, 2 ERROR, 3 CANCELLED, 4 MISUSE)", status)}
	}
}

// pollBatch polls every task in w.batch (C futures whose output fits an
// entry) with one call into C, then settles each outcome.
func (w *worker) pollBatch() {
	n := len(w.batch)
	if hostTable() == nil {
		for _, t := range w.batch {
			w.settle(t, true, nil, &TaskError{Task: t.id, Name: t.label(), Reason: "no host table is installed (import github.com/awake-rt/awake/cbindings, which installs it)"})
		}
		w.batch = w.batch[:0]
		return
	}
	for i, t := range w.batch {
		w.prepare(i, t, t.fut.(*Foreign))
	}
	w.inPoll = n
	w.runBatch(n)
	w.inPoll = 0
	w.flushTimerOps()
	// Counted before any task of the batch is settled (a waiter woken by a
	// settle sees its poll counted), with one atomic add per batch.
	polls := uint64(n)
	for i := range n {
		polls += uint64(w.pb.entry(i).repolls)
	}
	w.e.stats.polled.Add(polls)
	w.polls += polls
	for i, t := range w.batch {
		w.inBatch[i] = nil
		f := t.fut.(*Foreign)
		e := w.pb.entry(i)
		ready, v, err := w.result(t, f, e, w.pb.addr(i)+entryOut)
		if e.released != 0 && w.released(t, e.released, ready) {
			continue // polled again next round, like a drained wake
		}
		w.settle(t, ready, v, err)
	}
	w.batch = w.batch[:0]
}

// released handles what the batch poller saw when it gave up its claim on
// t's cell (state before the release, see vtable/layout.go). A wake during
// the last poll that the poller did not act on (its budget was spent) is a
// wake like any other: t is scheduled, as if its cell had been drained. A
// cell with no reference left was dropped by the plugin more times than it
// was cloned: it is repaired and reported, as Drain's dead cells are. It
// reports whether t was scheduled (the pending outcome needs no other
// check); a finished t is only counted.
func (w *worker) released(t *task, state uint64, ready bool) bool {
	if state < vtable.StateRefStep {
		if !w.q.Revive(vtable.Cell(t.cell)) {
			return false
		}
		w.e.overDropped(t)
		if ready {
			return false
		}
		w.e.stats.woken.Add(1)
		w.schedule(t)
		return true
	}
	if state&vtable.StateNotified == 0 {
		return false
	}
	if ready {
		w.e.stats.spuriousWakes.Add(1) // woken during the poll that finished it
		return false
	}
	w.e.stats.woken.Add(1)
	w.schedule(t)
	return true
}

func alignUp(p, a uintptr) uintptr {
	if a <= 1 {
		return p
	}
	return (p + a - 1) &^ (a - 1)
}

// readOutput copies a READY future's output into Go memory: the bytes of an
// awake_bytes (then releases them through its drop), or the raw output.
func readOutput(vt *abi.FutureVtable, out uintptr) any {
	if vt.Flags&abi.FutureOutputBytes != 0 {
		b := (*abi.Bytes)(cptr(out))
		var data []byte
		if b.Data != nil && b.Len > 0 {
			data = append([]byte(nil), unsafe.Slice(b.Data, b.Len)...)
		} else {
			data = []byte{}
		}
		if b.Drop != 0 {
			ccall.Call2(b.Drop, uintptr(unsafe.Pointer(b.Data)), b.Len)
		}
		return data
	}
	if vt.OutputSize == 0 {
		return nil
	}
	return append([]byte(nil), unsafe.Slice((*byte)(cptr(out)), vt.OutputSize)...)
}

// takeError reads and releases an owned awake_error (messages are copied,
// at most 64 KiB).
func takeError(t *task, name string, e uintptr) error {
	if e == 0 {
		return &TaskError{Task: t.id, Name: name, Code: abi.Error,
			Reason: "the future returned AWAKE_ERROR without an error object (set *err)"}
	}
	obj, problem := cmem.TakeError(e, 64<<10)
	if problem != "" {
		// awake.h: never read past the size a struct declares.
		return &TaskError{Task: t.id, Name: name, Code: abi.Error,
			Reason: "the future returned AWAKE_ERROR with an unusable awake_error: " + problem + " (set awake_error.size = sizeof(awake_error))"}
	}
	return &TaskError{Task: t.id, Name: name, Code: obj.Code, Reason: fmt.Sprintf("error %d: %s", obj.Code, obj.Message)}
}

// CString copies a NUL-terminated C string of at most max bytes (the first
// max bytes when no NUL comes sooner).
func CString(p *byte, max int) string {
	if p == nil {
		return ""
	}
	s, _ := cmem.CString(uintptr(unsafe.Pointer(p)), max)
	return s
}

// cptr: see cmem.Ptr.
func cptr(a uintptr) unsafe.Pointer { return cmem.Ptr(a) }
