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
// Spawn until the executor drops it (or its make fails).
func (l *Library) Spawn(e *executor.Executor, name string, args []byte) (*executor.JoinHandle, error) {
	i, err := l.beginMake(name)
	if err != nil {
		return nil, err
	}
	// Counted as live from here, on the spawning goroutine (the worker has
	// enough to do): Made stops counting a future whose make failed.
	l.uMade.Add(1)
	h, err := e.SpawnMake((*untracked)(l), i, &l.taskNames[i], args)
	if err != nil {
		l.uReleased.Add(1)
	}
	return h, err
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
	l.uMade.Add(int64(len(args))) // as in Spawn
	hs, err := e.SpawnMakeBatch((*untracked)(l), i, &l.taskNames[i], args)
	if err != nil {
		refused := len(args)
		for _, h := range hs {
			if h != nil {
				refused--
			}
		}
		l.uReleased.Add(int64(refused))
	}
	return hs, err
}
