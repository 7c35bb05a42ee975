package executor

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/internal/ccall"
	"github.com/awake-rt/awake/reactor"
	"github.com/awake-rt/awake/vtable"
)

type opKind int

const (
	opCancel opKind = iota
	opClose
	opCall
)

// op is a request posted to a worker from another goroutine.
type op struct {
	kind opKind
	t    *task
	fn   func()
}

// inboxToken is the token of each worker's inbox waker; a task's token is
// its slot in the worker's task table (taskTable), never 0.
const inboxToken = 0

// turnEvery is how many polling rounds a busy worker runs between
// non-blocking reactor turns: a syscall per round would cost more than the
// polls themselves. A round can hold many polls (up to 1024 per crossing
// when tasks wake themselves), so a busy worker also turns after turnPolls
// polls, as tokio does every 61 polls. A turn with no fd registered and no
// timer due makes no syscall (Reactor.Due), so this costs nothing to
// workloads without I/O and bounds how long a worker busy with self-waking
// tasks leaves I/O readiness unread.
const (
	turnEvery = 61
	turnPolls = 64
)

// worker owns a run queue, a reactor and the tasks spawned onto it. Its loop
// runs on one goroutine locked to one OS thread.
//
// Layout: fields that other goroutines only read come first, then, on cache
// lines of their own, the inbox that they write, then the worker's own
// state (see Executor about cache lines).
type worker struct {
	e          *Executor
	idx        int
	q          *vtable.Queue
	r          *reactor.Reactor
	pb         *pollBlock    // C-visible poll entries (contexts, outputs)
	fr         *ccall.Frames // call frames for C polls, outside the Go heap
	tops       *timerOps     // runtime-free timer_open/timer_close queue
	inboxWaker abi.Waker
	hostVt     *abi.WakerVtable // the vtable of the host wakers of q
	exited     chan struct{}

	_           cacheLinePad
	inboxMu     sync.Mutex
	inbox       []op
	spawns      []*task     // posted by Spawn, adopted in order by takeInbox
	hasInbox    atomic.Bool // set by post under inboxMu
	inboxClosed bool        // under inboxMu: Close ran, spawns are refused
	_           cacheLinePad

	batch   []*task         // C futures collected for one pollBatch
	inBatch [batchMax]*task // task of each entry while C runs
	inPoll  int             // entries in use while C runs (0: none)

	tasks        taskTable // live tasks, by the token of their waker cell
	runnable     []*task
	spare        []*task // the other runnable buffer: tasks scheduled while a round runs go here
	woken        []uint64
	ops          []op
	adopting     []*task               // the spawns taken from the inbox, being adopted (buffer reused)
	makes        *ccall.List           // make calls of SpawnMake tasks, one crossing per list (make.go)
	making       [ccall.ListMax]making // the task of each make call
	pin          runtime.Pinner        // arguments too large for makes' arena, while the list runs
	drops        *ccall.List           // drop calls of finished C futures, one crossing per list
	dropping     []finished            // tasks whose drop is in drops: completed after it runs
	dropSpare    []finished            // the other dropping buffer
	dropsRunning bool                  // drops is running: a nested finish drops at once
	cx           Context
	onDone       map[*task][]func()      // completion observers (C join futures), kept off the task
	names        map[uint64]finishedTask // checked mode: finished tasks whose cell is live, by token
	retired      []retiredCell           // checked mode: cells never reused, scanned for misuse
	rounds       uint64
	polls        uint64 // polls run, re-polls included
	turnedAt     uint64 // polls at the last busy reactor turn
	closing      bool
}

// beforeSleep, when set (tests only), runs on an idle worker right before
// it announces a sleep: a test posts a spawn there, into the window where a
// wake is needed although the worker still runs.
var beforeSleep func(w *worker)

// workerFault, when set (tests only), makes newWorker fail for a worker
// index after everything was allocated, to test New's error path.
var workerFault func(idx int) error

func newWorker(e *Executor, idx int) (_ *worker, err error) {
	var (
		w    *worker // under construction (a failed return sets no result)
		r    *reactor.Reactor
		q    *vtable.Queue
		pb   *pollBlock
		fr   *ccall.Frames
		tops *timerOps

		makes, drops *ccall.List
	)
	defer func() { // on failure, give back what was made
		if err == nil {
			return
		}
		if tops != nil {
			_ = unix.Munmap(tops.mem)
		}
		for _, l := range []*ccall.List{makes, drops} {
			if l != nil {
				_ = l.Close()
			}
		}
		if fr != nil {
			_ = fr.Close()
		}
		if pb != nil {
			_ = unix.Munmap(pb.mem)
		}
		if w != nil && w.inboxWaker.Data != 0 {
			vtable.Drop(w.inboxWaker) // its cell is then reclaimed by Close
		}
		if q != nil && q.Close() {
			q.Release()
		}
		if r != nil {
			r.Close()
			r.Release()
		}
		err = fmt.Errorf("awake: worker %d: %w", idx, err)
	}()
	if r, err = reactor.New(); err != nil {
		return nil, fmt.Errorf("creating its reactor: %w", err)
	}
	if q, err = vtable.NewQueue(r.WakeFd()); err != nil {
		return nil, fmt.Errorf("creating its run queue: %w", err)
	}
	if pb, err = newPollBlock(); err != nil {
		return nil, err
	}
	if fr, err = ccall.NewFrames(); err != nil {
		return nil, err
	}
	if tops, err = newTimerOps(); err != nil {
		return nil, err
	}
	if makes, err = ccall.NewList(); err != nil {
		return nil, err
	}
	if drops, err = ccall.NewList(); err != nil {
		return nil, err
	}
	w = &worker{e: e, idx: idx, q: q, r: r, pb: pb, fr: fr, tops: tops, makes: makes, drops: drops, onDone: make(map[*task][]func()), exited: make(chan struct{})}
	if e.cfg.Checked {
		q.SetQuarantine(true)
		w.names = make(map[uint64]finishedTask)
	}
	if w.inboxWaker, err = q.NewWaker(inboxToken); err != nil {
		return nil, fmt.Errorf("creating its inbox waker: %w", err)
	}
	if workerFault != nil {
		if err = workerFault(idx); err != nil {
			return nil, err
		}
	}
	w.hostVt = w.inboxWaker.Vtable
	r.SetTimerTag(tops.base)
	for i := range batchMax {
		*(*uintptr)(unsafe.Pointer(&pb.mem[i*entrySize+entryOps])) = tops.base
	}
	r.OnWake(q.Awake)
	registerWorker(w)
	return w, nil
}

// post hands an op to the worker from any goroutine and wakes it.
//
// The wake is made under the inbox lock: the worker cannot take the inbox,
// and so cannot reach Close's opClose and release its queue and the inbox
// waker's cell, before the lock is free. Once Close closed the inbox an op
// is dropped: the worker ends every task with ErrClosed anyway, and its
// queue may be gone.
func (w *worker) post(o op) {
	w.inboxMu.Lock()
	defer w.inboxMu.Unlock()
	if w.inboxClosed {
		return
	}
	w.inbox = append(w.inbox, o)
	w.hasInbox.Store(true)
	vtable.WakeByRef(w.inboxWaker) // after the flag: the drain that sees this wake sees the flag
}

// postSpawn hands a new task to the worker from any goroutine. Only the
// post that finds the inbox empty wakes the worker: a later post finds the
// flag still set only if the worker has not taken the inbox since that
// first post, whose wake (made after it released the lock) is then still to
// be drained, and the take that follows the drain sees this post too. A
// burst of spawns costs one wake, and the flag's cache line is written once
// per take instead of once per spawn.
//
// It reports false, and posts nothing, once Close has closed the inbox
// (closeInbox): the check and Close's opClose share the inbox lock, so a
// spawn either lands before the opClose (and the worker polls or drops it)
// or is refused, never lost.
func (w *worker) postSpawn(t *task) bool {
	w.inboxMu.Lock()
	if w.inboxClosed {
		w.inboxMu.Unlock()
		return false
	}
	w.spawns = append(w.spawns, t)
	w.wakeForSpawn()
	w.inboxMu.Unlock()
	return true
}

// wakeForSpawn sets the inbox flag after a spawn was posted and wakes the
// worker if it sleeps; inboxMu is held. Only the post that finds the flag
// clear can need a wake (see postSpawn), and only a sleeping worker needs
// it: a running one sees the flag before it sleeps (run checks it after
// PrepareSleep; both sides are sequentially consistent, so one sees the
// other). The wake is made under the lock for the reason given at post.
func (w *worker) wakeForSpawn() {
	if w.hasInbox.Load() {
		return
	}
	w.hasInbox.Store(true)
	if w.q.Asleep() {
		vtable.WakeByRef(w.inboxWaker)
	}
}

// postSpawns is postSpawn for several tasks, under one hold of the inbox
// lock (ts is copied).
func (w *worker) postSpawns(ts []*task) bool {
	w.inboxMu.Lock()
	if w.inboxClosed {
		w.inboxMu.Unlock()
		return false
	}
	w.spawns = append(w.spawns, ts...)
	w.wakeForSpawn()
	w.inboxMu.Unlock()
	return true
}

// closeInbox refuses every later spawn and posts opClose, under one hold of
// the inbox lock (see postSpawn).
func (w *worker) closeInbox() {
	w.inboxMu.Lock()
	w.inboxClosed = true
	w.inbox = append(w.inbox, op{kind: opClose})
	w.hasInbox.Store(true)
	vtable.WakeByRef(w.inboxWaker) // under the lock: see post
	w.inboxMu.Unlock()
}

func (w *worker) run() {
	runtime.LockOSThread() // never unlocked: the thread dies with the worker
	defer close(w.exited)
	for {
		// Drain wakes before taking the inbox: a spawn posts its task and
		// then wakes, so a token seen here is always known after takeInbox.
		w.q.Drain(w.onWake)
		w.takeInbox()
		if w.closing {
			w.shutdown()
			return
		}
		w.resolveWoken()
		if len(w.runnable) > 0 {
			w.pollRunnable()
			if w.rounds++; w.rounds%turnEvery == 0 || w.polls-w.turnedAt >= turnPolls {
				w.turnedAt = w.polls
				w.flushTimerOps()
				if w.r.Due() { // no fd and no timer due: skip the syscall
					w.turn(0)
				}
			}
			continue
		}
		if w.e.cfg.Checked {
			w.scanRetired()
		}
		if beforeSleep != nil {
			beforeSleep(w)
		}
		if w.q.PrepareSleep() {
			if !w.hasInbox.Load() { // a spawn posted before the announce (postSpawn)
				w.turn(-1)
			}
			w.q.Awake()
		}
	}
}

func (w *worker) turn(timeout time.Duration) {
	w.flushTimerOps()
	if _, err := w.r.Turn(timeout); err != nil {
		w.e.log.Error("awake: reactor turn failed; the worker keeps running", "worker", w.idx, "err", err)
	}
}

// onWake handles one drained cell. Live cells are buffered (resolved after
// the inbox, see run). A dead cell has lost every reference: it is reclaimed
// when its task is over, and repaired when its task is alive, which means a
// plugin dropped the task's waker more times than it cloned it.
func (w *worker) onWake(c vtable.Cell, dead bool) {
	tok := c.Token()
	if !dead {
		if tok != inboxToken {
			w.woken = append(w.woken, tok)
		}
		return
	}
	t := w.tasks.lookup(tok)
	if tok == inboxToken || t != nil {
		w.q.Revive(c)
		if t != nil {
			w.e.overDropped(t)
			// The cell was queued by a wake or by the drop to zero; either
			// way poll the task again (a spurious poll is harmless, a lost
			// wake is not).
			w.woken = append(w.woken, tok)
		}
		return
	}
	w.q.Reclaim(c)
	if w.e.cfg.Checked {
		f := w.names[tok]
		w.retired = append(w.retired, retiredCell{c: c, task: f.id, name: f.name})
		delete(w.names, tok)
	}
}

func (w *worker) takeInbox() {
	if !w.hasInbox.Load() { // the common case in a busy loop: no lock
		return
	}
	w.inboxMu.Lock()
	w.hasInbox.Store(false)
	w.ops, w.inbox = w.inbox, w.ops[:0]
	w.adopting, w.spawns = w.spawns, w.adopting[:0]
	w.inboxMu.Unlock()
	// Spawns first: a Cancel (an op) always follows its task's spawn.
	for i, t := range w.adopting {
		if t.unmade {
			w.adoptMake(t)
		} else {
			w.adopt(t)
		}
		w.adopting[i] = nil
	}
	w.runMakes()
	for i, o := range w.ops {
		switch o.kind {
		case opCancel:
			w.cancel(o.t)
		case opClose:
			w.closing = true
		case opCall:
			o.fn()
		}
		w.ops[i] = op{}
	}
	w.flushDrops()
}

func (w *worker) resolveWoken() {
	var woken uint64
	for _, tok := range w.woken {
		t := w.tasks.lookup(tok)
		if t == nil {
			w.e.stats.staleWakes.Add(1) // task already finished: harmless
			continue
		}
		woken++
		w.schedule(t)
	}
	if woken > 0 {
		w.e.stats.woken.Add(woken)
	}
	w.woken = w.woken[:0]
}

// schedule appends t to the runnable list unless it is already there.
func (w *worker) schedule(t *task) {
	if t.scheduled || t.finished {
		return
	}
	t.scheduled = true
	w.runnable = append(w.runnable, t)
}

func (w *worker) pollRunnable() {
	run := w.runnable
	w.runnable = w.spare[:0]
	for i, t := range run {
		run[i] = nil
		t.scheduled = false
		if t.finished {
			continue
		}
		if f, ok := t.fut.(*Foreign); ok && batchable(f) {
			w.batch = append(w.batch, t)
			if len(w.batch) == batchMax {
				w.pollBatch()
			}
			continue
		}
		w.poll(t)
	}
	if len(w.batch) > 0 {
		w.pollBatch()
	}
	w.flushDrops()
	w.spare = run[:0]
}

// poll polls a Go future, or a C future that cannot be batched.
func (w *worker) poll(t *task) {
	w.cx = Context{w: w, t: t}
	ready, v, err := w.safePoll(t)
	w.e.stats.polled.Add(1)
	w.polls++
	w.settle(t, ready, v, err)
}

// settle records a poll's outcome: the task finishes, or stays pending and
// must hold a way to be woken.
func (w *worker) settle(t *task, ready bool, v any, err error) {
	if ready {
		w.finish(t, v, err)
		return
	}
	// PENDING with no clone of the task's waker anywhere (plugin, reactor,
	// other tasks) and no wake during the poll: nothing can ever wake the
	// task. This is the tutorial's silent deadlock.
	if refs, queued := vtable.Cell(t.cell).Refs(); refs <= 1 && !queued {
		w.e.lostWaker(w, t)
	}
}

// safePoll polls t's future, turning a panic in a Go future into a task
// error with the stack, logged (a panic must never cross into C frames).
func (w *worker) safePoll(t *task) (ready bool, v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			w.e.log.Error("awake: future panicked; the task fails", "task", t.id, "name", t.label(), "panic", p, "stack", string(stack))
			ready, v, err = true, nil, &TaskError{Task: t.id, Name: t.label(), Reason: fmt.Sprintf("the future panicked: %v", p)}
		}
	}()
	return t.fut.Poll(&w.cx)
}

func (w *worker) cancel(t *task) {
	if t.finished || t.cancelled {
		return
	}
	t.cancelled = true
	if c, ok := t.fut.(Canceler); ok {
		will := c.Cancel()
		if will {
			w.schedule(t)
			return
		}
	}
	w.finish(t, nil, ErrCancelled)
}

// finish ends t exactly once: drops its future and waker, publishes the
// result and tells its observers. A C future's drop may be deferred to
// the next flushDrops (batched with others in one crossing into C); the
// task is then completed after it, so whoever sees the task done also
// sees its future dropped.
func (w *worker) finish(t *task, v any, err error) {
	if t.finished {
		return
	}
	t.finished = true
	if t.cell != 0 { // 0: adopt could not make it, t has no slot
		w.tasks.remove(vtable.Cell(t.cell).Token(), t)
	}
	if f, ok := t.fut.(*Foreign); ok && w.deferDrop(f) {
		w.dropping = append(w.dropping, finished{t, f, v, err})
		return
	}
	if d, ok := t.fut.(Dropper); ok {
		w.safeDrop(t, d)
		w.flushTimerOps() // a C drop may have closed timers
	}
	w.complete(t, v, err, false)
}

// outcome is the error t finishes with: a task cancelled without a value
// ends with ErrCancelled.
func outcome(t *task, v any, err error) error {
	if err == nil && t.cancelled && v == nil {
		return ErrCancelled
	}
	return err
}

// doneCounts counts finished tasks by outcome, to add to the executor's
// counters once per batch of completions rather than once per task.
type doneCounts struct{ completed, cancelled, failed uint64 }

func (n *doneCounts) add(err error) {
	switch {
	case err == nil:
		n.completed++
	case err == ErrCancelled || err == ErrClosed:
		n.cancelled++
	default:
		n.failed++
	}
}

func (n *doneCounts) flush(e *Executor) {
	if n.completed > 0 {
		e.stats.completed.Add(n.completed)
	}
	if n.cancelled > 0 {
		e.stats.cancelled.Add(n.cancelled)
	}
	if n.failed > 0 {
		e.stats.failed.Add(n.failed)
	}
}

// complete is the end of finish, once t's future was dropped. counted says
// the caller already applied outcome and counted the task (doneCounts).
func (w *worker) complete(t *task, v any, err error, counted bool) {
	t.fut = nil
	if t.cell != 0 { // 0: adopt could not make it
		refs, queued := vtable.Cell(t.cell).Refs()
		if queued {
			w.e.stats.spuriousWakes.Add(1) // woken during the poll that finished it
		}
		if refs > 1 {
			w.e.stats.wakersHeld.Add(1) // clones outlive the task: their wakes will be stale
		}
		if w.e.cfg.Checked {
			// Through the queue, where a dead cell is retired with its name.
			w.names[vtable.Cell(t.cell).Token()] = finishedTask{id: t.id, name: t.label()}
			vtable.Drop(t.waker())
		} else {
			w.q.DropOwned(vtable.Cell(t.cell))
		}
	}
	if !counted {
		err = outcome(t, v, err)
		var n doneCounts
		n.add(err)
		n.flush(w.e)
	}
	t.markDone(v, err)
	if len(w.onDone) == 0 {
		return
	}
	if fns, ok := w.onDone[t]; ok {
		delete(w.onDone, t)
		for _, f := range fns {
			f()
		}
	}
}

func (w *worker) safeDrop(t *task, d Dropper) {
	defer func() {
		if p := recover(); p != nil {
			w.e.log.Error("awake: future panicked in Drop", "task", t.id, "name", t.label(), "panic", p, "stack", string(debug.Stack()))
		}
	}()
	d.Drop()
}

// shutdown drops every pending task exactly once, then releases the queue
// and the reactor. Wakers that plugins still hold stay safe to call.
func (w *worker) shutdown() {
	for w.tasks.live > 0 {
		for i := range w.tasks.slots { // finish empties slots, never adds one
			if t := w.tasks.slots[i].t; t != nil {
				w.finish(t, nil, ErrClosed)
			}
		}
		w.flushDrops()
		w.takeInbox() // tasks spawned by futures' drops are dropped too
	}
	w.flushTimerOps()
	w.closeFreeTimers()
	unregisterWorker(w)
	vtable.Drop(w.inboxWaker)
	if w.e.cfg.Checked {
		w.q.Drain(w.onWake)
		w.scanRetired()
	}
	if !w.q.Close() {
		// A plugin still holds wakers: they may write the wake fd.
		w.r.CloseKeepWakeFd()
		return
	}
	w.r.Close()
	// Give the memory back when nothing a plugin may still hold points into
	// it (no waker cell outstanding, no timer or fd registration open);
	// otherwise it stays mapped so that late calls stay harmless.
	if w.r.Release() && w.q.Release() {
		_ = w.fr.Close()
		_ = w.makes.Close()
		_ = w.drops.Close()
		_ = unix.Munmap(w.pb.mem)
		_ = unix.Munmap(w.tops.mem)
	}
}
