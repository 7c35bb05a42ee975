package executor

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by Spawn after Close, and by Await for tasks
	// that were still pending when the executor closed (their futures were
	// dropped).
	ErrClosed = errors.New("awake: executor closed")
	// ErrCancelled is returned by Await for a task that was cancelled.
	ErrCancelled = errors.New("awake: task cancelled")
)

// TaskError is how a task failed: the future returned an error, broke the
// poll contract, or panicked. It names the task and, for plugin futures, the
// plugin and export.
type TaskError struct {
	Task   uint64 // task id
	Name   string // "plugin/export" for plugin futures, else the spawn name
	Code   int32  // the plugin's awake_error code, or the offending status
	Reason string // what went wrong
	Err    error  // underlying error, if any
}

// Error says which task failed and why.
func (e *TaskError) Error() string {
	name := e.Name
	if name == "" {
		name = "future"
	}
	return fmt.Sprintf("awake: task %d (%s): %s", e.Task, name, e.Reason)
}

// Unwrap returns the underlying error.
func (e *TaskError) Unwrap() error { return e.Err }
