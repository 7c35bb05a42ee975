// Package awake is a cgo-free async plugin runtime: a Go program loads
// shared libraries written in C, Rust or anything that speaks C (through
// include/awake.h, with purego and no cgo), and drives the futures they
// export on an executor whose wakers never enter the Go runtime.
//
//	rt, err := awake.New()
//	defer rt.Close()
//	p, err := rt.Load("./build/examples/timer.so")
//	out, err := p.Call(ctx, "sleep", []byte("150ms"))
//
// This package is the friendly entry point; the parts live in abi (the C
// structs), vtable (runtime-free wakers), reactor (epoll/kqueue and timers),
// executor (tasks and scheduling) and cbindings (loading plugins).
package awake

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/awake-rt/awake/cbindings"
	"github.com/awake-rt/awake/executor"
)

// Re-exported types, so most programs import only this package.
type (
	// Future is a future written in Go; see executor.Future.
	Future = executor.Future
	// FutureFunc adapts a poll function to Future.
	FutureFunc = executor.FutureFunc
	// Context is what a Go future's Poll receives.
	Context = executor.Context
	// Waker wakes a task; see executor.Waker.
	Waker = executor.Waker
	// Task is the handle of a spawned task.
	Task = executor.JoinHandle
	// Stats are the runtime's counters.
	Stats = executor.Stats
	// TaskError describes a failed task.
	TaskError = executor.TaskError
	// LoadError describes why a plugin could not be loaded or used.
	LoadError = cbindings.LoadError
	// ExportInfo names and documents one export of a plugin.
	ExportInfo = cbindings.ExportInfo
)

// Errors a task can end with.
var (
	ErrClosed    = executor.ErrClosed
	ErrCancelled = executor.ErrCancelled
)

// Kinds of *LoadError that Spawn, SpawnBatch and Call report (match them
// with errors.Is): ErrNoExport from Spawn itself; ErrMake (the export's
// make function failed) and ErrBadFuture (it made a future the host cannot
// use) from the task's Await, since the worker makes the future.
const (
	ErrNoExport  = cbindings.ErrNoExport
	ErrMake      = cbindings.ErrMake
	ErrBadFuture = cbindings.ErrBadFuture
)

// Sleep returns a Go future that completes after d on the runtime's
// sub-millisecond reactor timers.
var Sleep = executor.Sleep

// Option configures New.
type Option func(*config)

// config is what the options of New set: the executor's and how Load opens
// plugins.
type config struct {
	exec executor.Config
	load []cbindings.Option
}

// WithWorkers sets the number of worker threads (default GOMAXPROCS).
func WithWorkers(n int) Option { return func(c *config) { c.exec.Workers = n } }

// WithLogger sends plugin logs and runtime diagnostics to l.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.exec.Logger = l } }

// WithLostWakerPolicy sets what happens to a task that returns PENDING
// without keeping its waker: fail it (the default) or only report it.
func WithLostWakerPolicy(p executor.LostWakerPolicy) Option {
	return func(c *config) { c.exec.LostWaker = p }
}

// WithChecked turns on the checked mode: waker cells are never reused, so a
// plugin's clone or drop after a waker's last drop is reported with the task
// it belonged to. Meant for tests and debugging.
func WithChecked() Option { return func(c *config) { c.exec.Checked = true } }

// WithInsecurePlugins makes Load accept plugin files that another user could
// have changed: world-writable files, files owned by a non-root user other
// than the one running this process, files in world-writable directories
// without the sticky bit. Load refuses them by default (an error of kind
// cbindings.ErrInsecure), as ssh refuses such key files; this is the opt-out
// (cbindings.AllowInsecure for each Load).
func WithInsecurePlugins() Option {
	return func(c *config) { c.load = append(c.load, cbindings.AllowInsecure()) }
}

// Runtime is an executor plus the plugins loaded into it.
type Runtime struct {
	exec *executor.Executor
	load []cbindings.Option // passed to every cbindings.Open

	mu      sync.Mutex
	plugins []*Plugin
}

// New starts a runtime.
func New(opts ...Option) (*Runtime, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	e, err := executor.New(cfg.exec)
	if err != nil {
		return nil, err
	}
	return &Runtime{exec: e, load: cfg.load}, nil
}

// Executor returns the underlying executor.
func (r *Runtime) Executor() *executor.Executor { return r.exec }

// Load opens a plugin by path (never by bare name) and negotiates its ABI.
// Errors are *LoadError values naming the file, the symbol and the reason.
// A plugin file that another user could have changed is refused (see
// WithInsecurePlugins).
func (r *Runtime) Load(path string) (*Plugin, error) {
	lib, err := cbindings.Open(path, r.load...)
	if err != nil {
		return nil, err
	}
	p := &Plugin{rt: r, lib: lib}
	r.mu.Lock()
	r.plugins = append(r.plugins, p)
	r.mu.Unlock()
	return p, nil
}

// Spawn runs a Go future as a task.
func (r *Runtime) Spawn(f Future, opts ...executor.SpawnOption) (*Task, error) {
	return r.exec.Spawn(f, opts...)
}

// GoFunc is a Go function offered to plugins; see Offer.
type GoFunc = cbindings.GoFunc

// Offer makes fn callable by plugins as a future: a C future calls
// cx->host->call(cx, name, args, len, &fut, &err) and polls fut, which
// completes with fn's output when fn, running on its own goroutine, returns.
// Cancelling or dropping fut cancels fn's context.
func (r *Runtime) Offer(name string, fn GoFunc) { cbindings.Offer(r.exec, name, fn) }

// Stats returns the runtime's counters.
func (r *Runtime) Stats() Stats { return r.exec.Stats() }

// Close drops every pending task exactly once, stops the workers and closes
// the plugins (a plugin whose futures ran stays mapped: its wakers may still
// be called). Closing twice is harmless.
func (r *Runtime) Close() error {
	err := r.exec.Close()
	cbindings.Withdraw(r.exec)
	r.mu.Lock()
	ps := r.plugins
	r.plugins = nil
	r.mu.Unlock()
	for _, p := range ps {
		_ = p.lib.Close()
	}
	return err
}

// Plugin is a loaded plugin library.
type Plugin struct {
	rt  *Runtime
	lib *cbindings.Library
}

// Name returns the plugin's name from its descriptor.
func (p *Plugin) Name() string { return p.lib.Name() }

// Version returns the plugin's version string.
func (p *Plugin) Version() string { return p.lib.Version() }

// Path returns the file the plugin was loaded from.
func (p *Plugin) Path() string { return p.lib.Path() }

// Exports lists the plugin's exports.
func (p *Plugin) Exports() []ExportInfo { return p.lib.Exports() }

// Library returns the underlying loaded library.
func (p *Plugin) Library() *cbindings.Library { return p.lib }

// Spawn runs export's future, made from a copy of args, as a task. The
// worker that runs the task makes the future (with the makes of other new
// tasks, in one call into C), so a make that fails is reported by the
// task's Await (a *LoadError of kind ErrMake or ErrBadFuture); Spawn itself
// fails only for a closed runtime or plugin or an unknown export.
func (p *Plugin) Spawn(export string, args []byte) (*Task, error) {
	return p.lib.Spawn(p.rt.exec, export, args)
}

// SpawnBatch runs export once per element of args (nil for no arguments),
// each as its own task, and returns their handles in the order of args. It
// is Spawn for each element at a fraction of the cost per task: the tasks
// share one allocation (it is freed once every handle is gone) and are
// handed to the workers a few dozen at a time.
func (p *Plugin) SpawnBatch(export string, args [][]byte) ([]*Task, error) {
	return p.lib.SpawnBatch(p.rt.exec, export, args)
}

// Call spawns export with args and waits for its output (the bytes of an
// AWAKE_FUTURE_OUTPUT_BYTES future, or the raw output). When ctx ends first
// the task is cancelled and ctx's error is returned.
func (p *Plugin) Call(ctx context.Context, export string, args []byte) ([]byte, error) {
	t, err := p.Spawn(export, args)
	if err != nil {
		return nil, err
	}
	v, err := t.Await(ctx)
	if err != nil {
		return nil, err
	}
	switch b := v.(type) {
	case []byte:
		return b, nil
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("awake: %s/%s returned a %T, not bytes", p.Name(), export, v)
	}
}
