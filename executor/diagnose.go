package executor

import (
	"errors"
	"fmt"

	"github.com/awake-rt/awake/vtable"
)

// ErrNoWaker is wrapped by the error of a task that returned PENDING while
// nothing held its waker: no clone in the plugin, no reactor registration,
// no other task. Nothing could ever wake it (the tutorial's silent deadlock).
var ErrNoWaker = errors.New("awake: future returned PENDING without keeping a waker")

// LostWakerPolicy says what happens to a task that returned PENDING without
// keeping its waker.
type LostWakerPolicy int

const (
	// FailLostWaker fails the task with ErrNoWaker (the default).
	FailLostWaker LostWakerPolicy = iota
	// ReportLostWaker only logs and counts it; the task stays pending.
	ReportLostWaker
)

// Diagnostics log before they count, so that a reader who sees the counter
// move also finds the log record.

func (e *Executor) lostWaker(w *worker, t *task) {
	e.log.Error("awake: task returned PENDING without keeping its waker: nothing can wake it (register the waker -- clone cx->waker or park it with awake_event_poll -- before returning PENDING)",
		"task", t.id, "name", t.label(), "policy", e.cfg.LostWaker.String())
	e.stats.lostWakers.Add(1)
	if e.cfg.LostWaker == FailLostWaker {
		w.finish(t, nil, &TaskError{Task: t.id, Name: t.label(), Reason: "returned PENDING without keeping a waker (no clone, no reactor registration): it could never be woken", Err: ErrNoWaker})
	}
}

// String returns "fail" or "report".
func (p LostWakerPolicy) String() string {
	if p == ReportLostWaker {
		return "report"
	}
	return "fail"
}

// overDropped reports a task whose own waker reference a plugin dropped
// (found when its cell is drained dead, or when the batch poller releases it
// dead); the caller has revived the cell.
func (e *Executor) overDropped(t *task) {
	e.wakerMisuse(t, "its waker was dropped more times than it was cloned (the task's own reference was released; the host restored it)")
}

func (e *Executor) wakerMisuse(t *task, what string) {
	e.log.Error("awake: waker refcount misuse: "+what, "task", t.id, "name", t.label())
	e.stats.wakerMisuse.Add(1)
}

// retiredCell is a cell kept out of reuse in checked mode, with the name of
// the task it woke and the misuse count already reported.
type retiredCell struct {
	c        vtable.Cell
	task     uint64 // its task's id
	name     string
	reported uint64
}

// finishedTask names a finished task whose cell is still referenced
// (checked mode), by the cell's token.
type finishedTask struct {
	id   uint64
	name string
}

// scanRetired reports clones and drops that reached cells of finished tasks
// after their last reference was gone (use after the last drop).
func (w *worker) scanRetired() {
	for i := range w.retired {
		r := &w.retired[i]
		if m := r.c.Misuse(); m != r.reported {
			n := m - r.reported
			r.reported = m
			w.e.log.Error(fmt.Sprintf("awake: waker refcount misuse: %d clone/drop call(s) on the waker of a finished task after its last drop", n),
				"task", r.task, "name", r.name)
			w.e.stats.wakerMisuse.Add(n)
		}
	}
}
