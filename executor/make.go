package executor

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/awake-rt/awake/abi"
)

// Make describes a C future that the executor makes itself (SpawnMake): on
// the worker that will run it, with the make calls of other new tasks in
// one crossing into C, just before its first poll.
type Make struct {
	Fn    uintptr // an awake_make_fn; never 0
	Args  []byte  // copied by SpawnMake: the caller may reuse them at once
	Name  string  // "plugin/export", used in errors and logs
	Index int     // passed back to Owner.Made (an export's index)
	Owner Maker   // checks what make returned, then releases the future
}

// MakeMu is held shared while a worker runs make calls (SpawnMake), and
// exclusively by whoever must keep make calls out: package cbindings holds
// it while a plugin's entry runs, which awake.h keeps apart from makes.
var MakeMu sync.RWMutex

// A Maker is the owner of futures that the executor makes itself. Made
// runs on the worker right after the make call, with the status make
// returned and the words it wrote (the future's self and vtable, and its
// error object); it returns the future to poll, or the error that ends the
// task (Await returns it). A future it returns is released through the
// Maker's FutureOwner side, exactly once.
type Maker interface {
	FutureOwner
	Made(index int, rc int32, self, vtable, errp uintptr) (abi.Future, error)
}

// A DropCounter is a FutureOwner that lets the executor call its futures'
// drop functions itself, many in one crossing into C, and is told of each
// drop after it ran (instead of DropFuture).
type DropCounter interface {
	FutureOwner
	Dropped(abi.Future)
}

// spawnReq is a task posted to a worker's inbox; mk != nil marks a task
// (mk.task is t) whose future the worker makes first (SpawnMake), with fn,
// args and index.
type spawnReq struct {
	t     *task
	mk    *foreignTask
	fn    uintptr
	args  string // a copy of Make.Args
	index int
}

// making is a make call in the worker's make list.
type making struct {
	ft    *foreignTask
	index int
}

// finished is a task whose future's drop is in the worker's drop list.
type finished struct {
	t   *task
	f   *Foreign
	v   any
	err error
}

// SpawnMake spawns a task whose C future the executor makes itself (see
// Make). Spawn's caller then pays for neither the make call nor its
// crossing into C; a make that fails ends the task with the error
// Owner.Made returns, which Await returns. After Close it returns
// ErrClosed and calls nothing.
func (e *Executor) SpawnMake(m Make) (*JoinHandle, error) {
	if m.Fn == 0 || m.Owner == nil {
		return nil, errors.New("awake: SpawnMake: Make.Fn and Make.Owner must be set")
	}
	if e.closed.Load() {
		return nil, ErrClosed
	}
	ft := &foreignTask{f: Foreign{Name: m.Name, Owner: m.Owner}}
	t := &ft.task
	id := e.nextID.Add(1)
	w := e.workers[(id-1)%uint64(len(e.workers))] // round robin, like spawn
	t.id, t.w, t.namep = id, w, &ft.f.Name
	if !w.postSpawn(spawnReq{t: t, mk: ft, fn: m.Fn, args: string(m.Args), index: m.Index}) {
		e.stats.cancelled.Add(1) // counted as spawned: it has an id
		return nil, ErrClosed
	}
	return t.handle(), nil
}

// batchChunk is how many tasks of a SpawnMakeBatch one post to a worker
// carries: the worker starts on the first chunk while later ones are being
// filled in.
const batchChunk = 64

// SpawnMakeBatch spawns one task per element of ms, like SpawnMake, with
// one allocation for all of them (the handles point into it, so it stays
// in memory until every handle is gone), one id reservation and one post
// per batchChunk tasks, spread over the workers chunk by chunk. The handles
// are in the order of ms. After Close it returns ErrClosed and spawns
// nothing (a Close that runs during the call may refuse a later chunk: the
// tasks already posted then end with ErrClosed, those refused have nil
// handles, and the error is ErrClosed).
func (e *Executor) SpawnMakeBatch(ms []Make) ([]*JoinHandle, error) {
	for i := range ms {
		if ms[i].Fn == 0 || ms[i].Owner == nil {
			return nil, fmt.Errorf("awake: SpawnMakeBatch: Make.Fn and Make.Owner must be set (element %d)", i)
		}
	}
	if e.closed.Load() {
		return nil, ErrClosed
	}
	n := len(ms)
	fts := make([]foreignTask, n)
	hs := make([]*JoinHandle, n)
	last := e.nextID.Add(uint64(n))
	first := last - uint64(n) + 1
	var buf [batchChunk]spawnReq // copied by the post: stays on the stack
	for c := 0; c < n; c += batchChunk {
		end := min(c+batchChunk, n)
		w := e.workers[(first+uint64(c)/batchChunk-1)%uint64(len(e.workers))]
		reqs := buf[:0]
		for i := c; i < end; i++ {
			m, ft := &ms[i], &fts[i]
			ft.f = Foreign{Name: m.Name, Owner: m.Owner}
			t := &ft.task
			t.id, t.w, t.namep = first+uint64(i), w, &ft.f.Name
			reqs = append(reqs, spawnReq{t: t, mk: ft, fn: m.Fn, args: string(m.Args), index: m.Index})
			hs[i] = t.handle()
		}
		if !w.postSpawns(reqs) {
			e.stats.cancelled.Add(uint64(n - c)) // counted as spawned: they have ids
			clear(hs[c:])
			return hs, ErrClosed
		}
	}
	return hs, nil
}

// adoptMake adopts a SpawnMake task and adds its make call to the make
// list; runMakes makes the list's futures.
func (w *worker) adoptMake(r spawnReq) {
	t := r.t
	tok := w.tasks.insert(t)
	wk, err := w.q.NewWaker(tok)
	if err != nil {
		w.tasks.remove(tok, t)
		w.finish(t, nil, fmt.Errorf("awake: spawning %q: %w", t.label(), err))
		return
	}
	t.cell = wk.Data
	args, ok := w.makes.Copy(r.args)
	if !ok {
		w.runMakes() // the arena is full: make what it holds, then retry
		if args, ok = w.makes.Copy(r.args); !ok {
			p := unsafe.StringData(r.args) // larger than the arena
			w.pin.Pin(p)
			args = uintptr(unsafe.Pointer(p))
		}
	}
	i := w.makes.Len()
	w.makes.Add(r.fn, args, uintptr(len(r.args)), w.makes.Scratch(i, 0), w.makes.Scratch(i, 2))
	w.making[i] = making{r.mk, r.index}
	if w.makes.Full() {
		w.runMakes()
	}
}

// runMakes runs the make list in one crossing and starts each task whose
// future was made; the others fail with their Maker's error.
func (w *worker) runMakes() {
	n := w.makes.Len()
	if n == 0 {
		return
	}
	MakeMu.RLock()
	w.makes.Run(w.fr)
	MakeMu.RUnlock()
	w.pin.Unpin()
	for i := range n {
		m := w.making[i]
		w.making[i] = making{}
		t, f := &m.ft.task, &m.ft.f
		fut, err := f.Owner.(Maker).Made(m.index, int32(uint32(w.makes.Result(i))),
			w.makes.Word(i, 0), w.makes.Word(i, 1), w.makes.Word(i, 2))
		if err != nil {
			w.finish(t, nil, err) // t.fut is nil: nothing to drop
			continue
		}
		f.F = fut
		t.fut = f
		w.schedule(t)
	}
	w.makes.Reset()
}

// deferDrop adds f's drop to the drop list when its owner allows it (see
// DropCounter) and reports whether it did.
func (w *worker) deferDrop(f *Foreign) bool {
	vt := f.F.Vtable
	if vt == nil || vt.Drop == 0 || w.dropsRunning {
		return false
	}
	if _, ok := f.Owner.(DropCounter); !ok && f.Owner != nil {
		return false
	}
	if w.drops.Full() {
		w.flushDrops()
	}
	w.drops.Add(vt.Drop, f.F.Self, 0, 0, 0)
	return true
}

// flushDrops runs the drop list in one crossing, then completes the tasks
// whose futures it dropped, in the order they finished.
func (w *worker) flushDrops() {
	for w.drops.Len() > 0 {
		w.dropsRunning = true // a drop that calls back into Go drops directly
		w.drops.Run(w.fr)
		w.dropsRunning = false
		w.drops.Reset()
		w.flushTimerOps() // a C drop may have closed timers
		done := w.dropping
		w.dropping = w.dropSpare[:0] // a completion may finish other tasks
		for i, d := range done {
			if c, ok := d.f.Owner.(DropCounter); ok {
				c.Dropped(d.f.F)
			}
			w.complete(d.t, d.v, d.err)
			done[i] = finished{}
		}
		w.dropSpare = done[:0]
	}
}
