package cbindings

import (
	"github.com/awake-rt/awake/executor"
)

// Future makes a future from export name and wraps it for the executor:
// spawn the result with (*executor.Executor).Spawn. The library counts it as
// live until the executor drops it.
func (l *Library) Future(name string, args []byte) (*executor.Foreign, error) {
	f, i, err := l.makeFuture(name, args, false)
	if err != nil {
		return nil, err
	}
	return &executor.Foreign{F: f, Name: l.taskNames[i], Owner: (*untracked)(l)}, nil
}

// Spawn spawns a task on e that runs export name's future. The future is
// made by the worker that runs the task, just before its first poll, with
// the make calls of other new tasks in one crossing into C
// (executor.SpawnMake; args are copied, the caller may reuse them at once).
// Spawn itself fails only when the library or e is closed or there is no
// such export; a make that fails (ErrMake, ErrBadFuture) ends the task, and
// Await returns the *LoadError. The library counts the future as live from
// its make until the executor drops it.
func (l *Library) Spawn(e *executor.Executor, name string, args []byte) (*executor.JoinHandle, error) {
	i, err := l.beginMake(name)
	if err != nil {
		return nil, err
	}
	return e.SpawnMake((*untracked)(l), i, &l.taskNames[i], args)
}

// SpawnBatch spawns one task per element of args, each running export
// name's future made from that element (nil for no arguments), like Spawn
// for each, with one allocation and one post per few dozen tasks for the
// whole batch (executor.SpawnMakeBatch): the cheapest way to start many
// tasks at once. The handles are in the order of args. It fails, spawning
// nothing, when the library or e is closed or there is no such export.
func (l *Library) SpawnBatch(e *executor.Executor, name string, args [][]byte) ([]*executor.JoinHandle, error) {
	i, err := l.beginMake(name)
	if err != nil {
		return nil, err
	}
	return e.SpawnMakeBatch((*untracked)(l), i, &l.taskNames[i], args)
}
