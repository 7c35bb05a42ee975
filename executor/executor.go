package executor

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
)

// Config configures an Executor. The zero value is valid.
type Config struct {
	// Workers is the number of worker threads (default GOMAXPROCS).
	Workers int
	// Logger receives plugin logs and runtime diagnostics (default
	// slog.Default()).
	Logger *slog.Logger
	// LostWaker says what to do with a task that returns PENDING without
	// keeping its waker (default FailLostWaker).
	LostWaker LostWakerPolicy
	// Checked turns on the checked mode: waker cells are never reused, so a
	// clone or drop after a waker's last drop is detected and reported with
	// the task it belonged to (costs one cell of memory per finished task
	// whose waker outlived it). Meant for tests and debugging.
	Checked bool
}

// Executor runs tasks on worker threads. It is safe for concurrent use.
//
// Layout: the field that Spawn writes (nextID) sits on a cache line of its
// own. On this kind of VM a cache line written by one core and then touched
// by another costs a few hundred nanoseconds, so a spawning goroutine and a
// worker must share as few written lines as possible (the counters, written
// by the workers, are apart too; closed is written once, by Close).
type Executor struct {
	cfg     Config
	workers []*worker
	log     *slog.Logger
	closed  atomic.Bool // Close ran (each worker's inbox decides; see spawn)

	_      cacheLinePad
	nextID atomic.Uint64 // the last task id given; also the Spawned count
	_      cacheLinePad
	stats  counters
	_      cacheLinePad

	once sync.Once
}

// cacheLinePad keeps the fields around it on separate cache lines.
type cacheLinePad [64]byte

// New starts an executor with cfg.Workers worker threads.
func New(cfg Config) (*Executor, error) {
	n := cfg.Workers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	e := &Executor{cfg: cfg, log: cfg.Logger}
	if e.log == nil {
		e.log = slog.Default()
	}
	for i := range n {
		w, err := newWorker(e, i)
		if err != nil {
			// Stop the workers already running (each drops its memory).
			for _, w := range e.workers {
				w.closeInbox()
				<-w.exited
			}
			return nil, err
		}
		e.workers = append(e.workers, w)
		go w.run() // running at once: the error path above needs it
	}
	return e, nil
}

// SpawnOption configures Spawn.
type SpawnOption func(*spawnConfig)

type spawnConfig struct {
	name   string
	worker int
}

// Name labels the task in errors, logs and diagnostics.
func Name(name string) SpawnOption { return func(c *spawnConfig) { c.name = name } }

// OnWorker pins the task to worker i (modulo the worker count) instead of
// round-robin placement.
func OnWorker(i int) SpawnOption { return func(c *spawnConfig) { c.worker = i } }

// Spawn schedules f as a new task and returns its handle. The task is first
// polled on its worker soon after. After Close, Spawn returns ErrClosed and
// drops f (if it is a Dropper).
func (e *Executor) Spawn(f Future, opts ...SpawnOption) (*JoinHandle, error) {
	if f == nil {
		return nil, errors.New("awake: Spawn: the future is nil")
	}
	cfg := spawnConfig{worker: -1}
	if fo, ok := f.(*Foreign); ok {
		cfg.name = fo.Name
	}
	if len(opts) > 0 {
		cfg = cfg.with(opts)
	}
	return e.spawn(&task{fut: f}, cfg)
}

// with applies opts to a copy of c (the copy, not the caller's value, is
// what escapes to the heap through the option functions).
func (c spawnConfig) with(opts []SpawnOption) spawnConfig {
	for _, o := range opts {
		o(&c)
	}
	return c
}

// spawn places t (its fut set) on a worker and posts it there.
//
// It takes no executor-wide lock: whether Close ran is decided under the
// chosen worker's inbox lock, which the post takes anyway (postSpawn). The
// closed flag read first only spares a closed executor an id.
func (e *Executor) spawn(t *task, cfg spawnConfig) (*JoinHandle, error) {
	if e.closed.Load() {
		dropRefused(t.fut)
		return nil, ErrClosed
	}
	id := e.nextID.Add(1) // ids start at 1; 0 is the inbox token
	idx := cfg.worker
	if idx < 0 {
		idx = int((id - 1) % uint64(len(e.workers))) // round robin
	}
	w := e.workers[idx%len(e.workers)]
	w.initTask(t, id, cfg.name)
	if !w.postSpawn(t) {
		e.stats.cancelled.Add(1) // counted as spawned: it has an id
		dropRefused(t.fut)
		return nil, ErrClosed
	}
	return t.handle(), nil
}

// dropRefused drops the future of a spawn that Close refused.
func dropRefused(f Future) {
	if d, ok := f.(Dropper); ok {
		d.Drop()
	}
}

// initTask fills in a new task for worker w. Its waker cell is made later,
// by w itself (adopt): the cell is then written by the thread that uses it.
func (w *worker) initTask(t *task, id uint64, name string) {
	t.id = id
	t.w = w
	if fo, ok := t.fut.(*Foreign); ok && fo.Name == name {
		t.namep = &fo.Name // no copy of the name per task
	} else if name != "" {
		n := name // only this copy escapes
		t.namep = &n
	}
}

// adopt starts a task posted to (or spawned on) w: it makes the task's
// waker cell and schedules the first poll. A task whose cell cannot be made
// fails at once.
func (w *worker) adopt(t *task) {
	if err := w.enter(t); err != nil {
		w.finish(t, nil, err)
		return
	}
	w.schedule(t)
}

// enter gives a new task its slot in the task table and its waker cell,
// whose token is that slot; on failure t has neither.
func (w *worker) enter(t *task) error {
	tok := w.tasks.insert(t)
	wk, err := w.q.NewWaker(tok)
	if err != nil {
		w.tasks.remove(tok, t)
		return fmt.Errorf("awake: spawning %q: %w", t.label(), err)
	}
	t.cell = wk.Data
	return nil
}

// Close stops accepting tasks, drops every pending future exactly once
// (their Await returns ErrClosed), and stops the workers. Wakers that plugins
// still hold stay safe to call: their wakes land in a queue nobody drains.
// Close is idempotent; later calls return nil at once.
func (e *Executor) Close() error {
	e.once.Do(func() {
		e.closed.Store(true)
		for _, w := range e.workers {
			w.closeInbox()
		}
		for _, w := range e.workers {
			<-w.exited
		}
	})
	return nil
}

// Workers returns the number of worker threads.
func (e *Executor) Workers() int { return len(e.workers) }

// Stats is a snapshot of the executor's counters.
type Stats struct {
	Spawned    uint64 // tasks created
	Polled     uint64 // polls run
	Woken      uint64 // wakes that scheduled a live task (coalesced wakes count once)
	StaleWakes uint64 // wakes that arrived after their task finished (harmless)
	Pending    uint64 // tasks spawned and not yet finished
	Completed  uint64 // tasks that finished with a value
	Failed     uint64 // tasks that finished with an error
	Cancelled  uint64 // tasks cancelled or dropped by Close

	// Diagnostics (see RATIONALE.md, "misuse made visible").
	LostWakers    uint64 // PENDING returned while nothing held the task's waker
	SpuriousWakes uint64 // wakes raised during the poll that completed the task
	WakersHeld    uint64 // tasks that finished while waker clones were still held
	WakerMisuse   uint64 // over-drops and uses after the last drop detected
}

// counters are written by the workers (and by a spawn racing Close).
type counters struct {
	polled, woken, staleWakes, completed, failed, cancelled atomic.Uint64
	lostWakers, spuriousWakes, wakersHeld, wakerMisuse      atomic.Uint64
}

// Stats returns the current counters.
func (e *Executor) Stats() Stats {
	s := Stats{
		Polled: e.stats.polled.Load(), Woken: e.stats.woken.Load(),
		StaleWakes: e.stats.staleWakes.Load(), Completed: e.stats.completed.Load(),
		Failed: e.stats.failed.Load(), Cancelled: e.stats.cancelled.Load(),
		LostWakers: e.stats.lostWakers.Load(), SpuriousWakes: e.stats.spuriousWakes.Load(),
		WakersHeld: e.stats.wakersHeld.Load(), WakerMisuse: e.stats.wakerMisuse.Load(),
	}
	// Read last: every task a worker counted had its id before.
	s.Spawned = e.nextID.Load()
	s.Pending = s.Spawned - s.Completed - s.Failed - s.Cancelled
	return s
}
