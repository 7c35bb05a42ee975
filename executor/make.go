package executor

import (
	"errors"
	"sync"
	"unsafe"

	"github.com/awake-rt/awake/abi"
)

// MakeMu is held shared while a worker runs make calls (SpawnMake), and
// exclusively by whoever must keep make calls out: package cbindings holds
// it while a plugin's entry runs, which awake.h keeps apart from makes.
var MakeMu sync.RWMutex

// A Maker is the owner of futures that the executor makes itself
// (SpawnMake): a plugin library. MakeFn returns the make function (an
// awake_make_fn) of its export index. Made runs on the worker right after
// the make call, with the status make returned and the words it wrote (the
// future's self and vtable, and its error object); it returns the future to
// poll, or the error that ends the task (Await returns it). A future it
// returns is released through the Maker's FutureOwner side, exactly once.
type Maker interface {
	FutureOwner
	MakeFn(index int) uintptr
	Made(index int, rc int32, self, vtable, errp uintptr) (abi.Future, error)
}

// A DropCounter is a FutureOwner that lets the executor call its futures'
// drop functions itself, many in one crossing into C, and is told how many
// it dropped after they ran (instead of DropFuture for each).
type DropCounter interface {
	FutureOwner
	Dropped(n int)
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

// SpawnMake spawns a task running the future that owner's export index
// makes from a copy of args. The worker that runs the task makes it, just
// before the first poll and in one crossing into C with the makes of other
// new tasks, so the caller pays for neither the make call nor its
// crossing; a make that fails ends the task with the error owner.Made
// returns, which Await returns. name ("plugin/export") must stay valid and
// unchanged for the task's life (the task points to it). After Close it
// returns ErrClosed and calls nothing.
func (e *Executor) SpawnMake(owner Maker, index int, name *string, args []byte) (*JoinHandle, error) {
	if owner == nil || name == nil {
		return nil, errors.New("awake: SpawnMake: owner and name must be set")
	}
	if e.closed.Load() {
		return nil, ErrClosed
	}
	ft := new(foreignTask)
	id := e.nextID.Add(1)
	w := e.workers[(id-1)%uint64(len(e.workers))] // round robin, like spawn
	ft.initUnmade(id, w, owner, index, name, args)
	if !w.postSpawn(&ft.task) {
		e.stats.cancelled.Add(1) // counted as spawned: it has an id
		return nil, ErrClosed
	}
	return ft.handle(), nil
}

// initUnmade fills in a task whose future its worker will make. Until then
// the Foreign's fields hold what the make needs, so that a pending spawn
// costs no memory beyond its task: F.Self the export index and Name the
// arguments (a copy); adoptMake puts the future and its name there.
func (ft *foreignTask) initUnmade(id uint64, w *worker, owner Maker, index int, name *string, args []byte) {
	ft.id, ft.w, ft.namep, ft.unmade = id, w, name, true
	ft.f = Foreign{F: abi.Future{Self: uintptr(index)}, Name: string(args), Owner: owner}
}

// batchChunk is how many tasks of a SpawnMakeBatch one post to a worker
// carries: the worker starts on the first chunk while later ones are being
// filled in.
const batchChunk = 64

// SpawnMakeBatch spawns one task per element of args, like SpawnMake for
// each, with one allocation for all of them (the handles point into it, so
// it stays in memory until every handle is gone), one id reservation and
// one post per batchChunk tasks, spread over the workers chunk by chunk.
// The handles are in the order of args. After Close it returns ErrClosed
// and spawns nothing (a Close that runs during the call may refuse a later
// chunk: the tasks already posted then end with ErrClosed, those refused
// have nil handles, and the error is ErrClosed).
func (e *Executor) SpawnMakeBatch(owner Maker, index int, name *string, args [][]byte) ([]*JoinHandle, error) {
	if owner == nil || name == nil {
		return nil, errors.New("awake: SpawnMakeBatch: owner and name must be set")
	}
	if e.closed.Load() {
		return nil, ErrClosed
	}
	n := len(args)
	fts := make([]foreignTask, n)
	hs := make([]*JoinHandle, n)
	last := e.nextID.Add(uint64(n))
	first := last - uint64(n) + 1
	var buf [batchChunk]*task // copied by the post: stays on the stack
	for c := 0; c < n; c += batchChunk {
		end := min(c+batchChunk, n)
		w := e.workers[(first+uint64(c)/batchChunk-1)%uint64(len(e.workers))]
		ts := buf[:0]
		for i := c; i < end; i++ {
			fts[i].initUnmade(first+uint64(i), w, owner, index, name, args[i])
			ts = append(ts, &fts[i].task)
			hs[i] = fts[i].handle()
		}
		if !w.postSpawns(ts) {
			e.stats.cancelled.Add(uint64(n - c)) // counted as spawned: they have ids
			clear(hs[c:])
			return hs, ErrClosed
		}
	}
	return hs, nil
}

// adoptMake adopts an unmade task (initUnmade) and adds its make call to
// the make list; runMakes makes the list's futures.
func (w *worker) adoptMake(t *task) {
	ft := (*foreignTask)(unsafe.Pointer(t)) // only initUnmade marks a task unmade
	if err := w.enter(t); err != nil {
		w.finishUnmade(ft, err)
		return
	}
	argv := ft.f.Name
	index := int(ft.f.F.Self)
	args, ok := w.makes.Copy(argv)
	if !ok {
		w.runMakes() // the arena is full: make what it holds, then retry
		if args, ok = w.makes.Copy(argv); !ok {
			p := unsafe.StringData(argv) // larger than the arena
			w.pin.Pin(p)
			args = uintptr(unsafe.Pointer(p))
		}
	}
	i := w.makes.Len()
	w.makes.AddOut(ft.f.Owner.(Maker).MakeFn(index), args, uintptr(len(argv)), w.makes.Scratch(i, 0), w.makes.Scratch(i, 2))
	w.making[i] = making{ft, index}
	if w.makes.Full() {
		w.runMakes()
	}
}

// finishUnmade ends a task whose future was never made.
func (w *worker) finishUnmade(ft *foreignTask, err error) {
	ft.unmade = false
	ft.f.F, ft.f.Name = abi.Future{}, *ft.namep
	w.finish(&ft.task, nil, err) // fut is nil: nothing to drop
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
			w.finishUnmade(m.ft, err)
			continue
		}
		t.unmade = false
		f.F, f.Name = fut, *t.namep
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
		// Counted first, with one atomic add per counter and per owner
		// (consecutive tasks mostly share one), and before any task is
		// marked done: whoever sees a task done sees it counted.
		var n doneCounts
		var owner DropCounter
		var drops int
		for i := range done {
			d := &done[i]
			d.err = outcome(d.t, d.v, d.err)
			n.add(d.err)
			c, _ := d.f.Owner.(DropCounter)
			if c != owner && drops > 0 {
				owner.Dropped(drops)
				drops = 0
			}
			owner = c
			if c != nil {
				drops++
			}
		}
		if drops > 0 {
			owner.Dropped(drops)
		}
		n.flush(w.e)
		for i, d := range done {
			w.complete(d.t, d.v, d.err, true)
			done[i] = finished{}
		}
		w.dropSpare = done[:0]
	}
}

// adoptMake turns a *task into its *foreignTask: the task must be the
// first field (this fails to compile otherwise).
var _ = [1]struct{}{}[unsafe.Offsetof(foreignTask{}.task)]
