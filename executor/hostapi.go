package executor

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/awake-rt/awake/abi"
)

// The host API as the Go side of the C boundary (package cbindings) needs
// it: resolve the awake_context a plugin passes back to the worker and task
// it belongs to, and act for that task. These run inside a C poll, on the
// worker's own goroutine (a purego callback from the worker's thread runs on
// the goroutine that made the C call), so they may touch worker state freely.

var (
	hostPtr atomic.Pointer[abi.Host]

	workersMu sync.RWMutex
	byPage    = map[uintptr]*worker{} // pages of each worker's poll block
	byOps     = map[uintptr]*worker{} // each worker's timer-ops block
)

// SetHost installs the awake_host table that every C poll's context carries
// (package cbindings calls it once). The table must stay valid forever.
func SetHost(h *abi.Host) { hostPtr.Store(h) }

func hostTable() *abi.Host { return hostPtr.Load() }

func registerWorker(w *worker) {
	workersMu.Lock()
	for off := uintptr(0); off < blockSize; off += pageSize {
		byPage[w.pb.base+off] = w
	}
	byOps[w.tops.base] = w
	workersMu.Unlock()
}

func unregisterWorker(w *worker) {
	workersMu.Lock()
	for off := uintptr(0); off < blockSize; off += pageSize {
		delete(byPage, w.pb.base+off)
	}
	delete(byOps, w.tops.base)
	workersMu.Unlock()
}

// Poller acts for the task whose poll (or drop) is running on a worker.
type Poller struct {
	w *worker
	t *task
}

// PollerFor resolves the awake_context address a plugin passed to a host
// function. The context may be one the plugin built itself to poll a child
// future with another waker: the worker is found through the context's
// host_data, which such a context copies from the one its parent received.
// It fails when cx is NULL or names no live worker, or when no poll is
// running on that worker (the plugin kept the context past its poll, or
// called from a thread that is not polling).
func PollerFor(cx uintptr) (Poller, error) {
	if cx == 0 {
		return Poller{}, fmt.Errorf("awake: host function called with a NULL context")
	}
	key := (*abi.Context)(cptr(cx)).HostData
	workersMu.RLock()
	w := byPage[key&^(pageSize-1)]
	workersMu.RUnlock()
	if w == nil {
		return Poller{}, fmt.Errorf("awake: host function called with context %#x whose host_data %#x names no live executor worker (contexts are valid only during a poll, and not after Close; a context built by the plugin must copy host_data from the one it received)", cx, key)
	}
	i := w.pb.index(key)
	if i < 0 || i >= w.inPoll || w.inBatch[i] == nil {
		return Poller{}, fmt.Errorf("awake: host function called with worker %d's context while no poll is running on it (contexts are borrowed for one poll only)", w.idx)
	}
	return Poller{w: w, t: w.inBatch[i]}, nil
}

const pageSize = 4096

// Executor returns the executor running the task.
func (p Poller) Executor() *Executor { return p.w.e }

// TaskName returns "plugin/export" (or the spawn name) of the task.
func (p Poller) TaskName() string { return p.t.label() }

// TaskID returns the task's id.
func (p Poller) TaskID() uint64 { return p.t.id }

// OpenTimer opens a timer on the task's worker's reactor. This is the slow
// path of the runtime-free timer_open (timerops.go): it applies the queued
// operations and refills the free list before opening.
func (p Poller) OpenTimer(deadlineNs uint64) (*abi.Timer, error) {
	p.w.flushTimerOps()
	p.w.refillTimers()
	return p.w.r.OpenTimer(deadlineNs)
}

// ResetTimer re-arms a timer of the task's worker.
func (p Poller) ResetTimer(t *abi.Timer, deadlineNs uint64) error {
	p.w.flushTimerOps() // the timer may still be queued for arming
	return p.w.r.ResetTimer(t, deadlineNs)
}

// OpenIO registers fd with the task's worker's reactor.
func (p Poller) OpenIO(fd int32, interest uint32) (*abi.IO, error) {
	io, err := p.w.r.OpenIO(fd, interest)
	if err == nil {
		owners.Store(uintptr(unsafe.Pointer(io)), p.w)
	}
	return io, err
}

// owners maps each open awake_timer / awake_io (host memory handed to C) to
// the worker whose reactor owns it, because timer_close and io_close carry
// no context.
var owners sync.Map

// CloseTimer closes a timer opened through a Poller (the slow path of the
// runtime-free timer_close). Its worker is found through the tag in the
// timer's slot; a timer whose executor has closed is released with it.
func CloseTimer(t *abi.Timer) {
	if w := timerOwner(t); w != nil {
		w.flushTimerOps()
		w.r.CloseTimer(t)
	}
}

// CloseIO deregisters an fd registration opened through a Poller; unknown
// registrations are ignored like CloseTimer's.
func CloseIO(io *abi.IO) {
	if w, ok := owners.LoadAndDelete(uintptr(unsafe.Pointer(io))); ok {
		w.(*worker).r.CloseIO(io)
	}
}

// Spawn starts f as a new task on the same worker (it is first polled after
// the current poll returns).
func (p Poller) Spawn(f Future, name string) (*JoinHandle, error) {
	if p.w.closing {
		if d, ok := f.(Dropper); ok {
			d.Drop()
		}
		return nil, ErrClosed
	}
	// A future that may be polled from any thread (AWAKE_FUTURE_SEND) is
	// spread over the workers, like Executor.Spawn does: an acceptor that
	// spawns one task per connection then uses every worker. Others stay
	// on this worker (and its OS thread) for their whole life.
	e := p.w.e
	id := e.nextID.Add(1)
	tw := p.w
	if fo, ok := f.(*Foreign); ok && len(e.workers) > 1 && fo.F.Vtable != nil && fo.F.Vtable.Flags&abi.FutureSend != 0 {
		tw = e.workers[(id-1)%uint64(len(e.workers))] // round robin, like Executor.Spawn
	}
	t := &task{fut: f}
	tw.initTask(t, id, name)
	if tw != p.w {
		// Like Executor.Spawn: a post that precedes Close's opClose is
		// processed before that worker shuts down, so the task is polled or
		// dropped, never lost; a later one is refused.
		if !tw.postSpawn(t) {
			e.stats.cancelled.Add(1) // counted as spawned: it has an id
			dropRefused(f)
			return nil, ErrClosed
		}
	} else {
		p.w.adopt(t)
	}
	return t.handle(), nil
}

// OnDone registers fn to run when h's task finishes (at once if it already
// has). fn runs on the task's worker; for a task on another worker the
// registration is posted there.
func (p Poller) OnDone(h *JoinHandle, fn func()) {
	t := h.task()
	if t.w != p.w {
		t.w.post(op{kind: opCall, fn: func() { t.w.onDoneLocal(t, fn) }})
		return
	}
	p.w.onDoneLocal(t, fn)
}

func (w *worker) onDoneLocal(t *task, fn func()) {
	if t.finished {
		fn()
		return
	}
	w.onDone[t] = append(w.onDone[t], fn)
}

// Log writes a plugin log record, tagged with the task.
func (p Poller) Log(level int32, msg string) {
	p.w.e.log.Log(context.Background(), slog.Level(level), msg, "task", p.t.id, "name", p.t.label(), "worker", p.w.idx)
}
