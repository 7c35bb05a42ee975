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
type Executor struct {
	cfg     Config
	workers []*worker
	log     *slog.Logger
	nextID  atomic.Uint64
	rr      atomic.Uint64
	stats   counters

	mu     sync.RWMutex // guards closed against Spawn
	closed bool
	once   sync.Once
}

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
			for _, w := range e.workers {
				w.post(op{kind: opClose})
				<-w.exited
			}
			return nil, err
		}
		e.workers = append(e.workers, w)
	}
	for _, w := range e.workers {
		go w.run()
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
	for _, o := range opts {
		o(&cfg)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		if d, ok := f.(Dropper); ok {
			d.Drop()
		}
		return nil, ErrClosed
	}
	idx := cfg.worker
	if idx < 0 {
		idx = int(e.rr.Add(1) - 1)
	}
	w := e.workers[idx%len(e.workers)]
	t, err := w.newTask(f, cfg.name)
	if err != nil {
		if d, ok := f.(Dropper); ok {
			d.Drop()
		}
		return nil, err
	}
	w.post(op{kind: opSpawn, t: t})
	return &JoinHandle{t, w}, nil
}

func (w *worker) newTask(f Future, name string) (*task, error) {
	id := w.e.nextID.Add(1) // ids start at 1; 0 is the inbox token
	wk, err := w.q.NewWaker(id)
	if err != nil {
		return nil, fmt.Errorf("awake: spawning %q: %w", name, err)
	}
	w.e.stats.spawned.Add(1)
	t := &task{id: id, fut: f, waker: wk}
	if fo, ok := f.(*Foreign); ok && fo.Name == name {
		t.namep = &fo.Name // no copy of the name per task
	} else if name != "" {
		t.namep = &name
	}
	return t, nil
}

// Close stops accepting tasks, drops every pending future exactly once
// (their Await returns ErrClosed), and stops the workers. Wakers that plugins
// still hold stay safe to call: their wakes land in a queue nobody drains.
// Close is idempotent; later calls return nil at once.
func (e *Executor) Close() error {
	e.once.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		for _, w := range e.workers {
			w.post(op{kind: opClose})
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

type counters struct {
	spawned, polled, woken, staleWakes, completed, failed, cancelled atomic.Uint64
	lostWakers, spuriousWakes, wakersHeld, wakerMisuse               atomic.Uint64
}

// Stats returns the current counters.
func (e *Executor) Stats() Stats {
	s := Stats{
		Spawned: e.stats.spawned.Load(), Polled: e.stats.polled.Load(), Woken: e.stats.woken.Load(),
		StaleWakes: e.stats.staleWakes.Load(), Completed: e.stats.completed.Load(),
		Failed: e.stats.failed.Load(), Cancelled: e.stats.cancelled.Load(),
		LostWakers: e.stats.lostWakers.Load(), SpuriousWakes: e.stats.spuriousWakes.Load(),
		WakersHeld: e.stats.wakersHeld.Load(), WakerMisuse: e.stats.wakerMisuse.Load(),
	}
	s.Pending = s.Spawned - s.Completed - s.Failed - s.Cancelled
	return s
}
