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

// Spawn makes a future from export name and spawns it on e, like
// e.Spawn(l.Future(name, args)) with one allocation less (the task and its
// Foreign are one object). The library counts the future as live until the
// executor drops it.
func (l *Library) Spawn(e *executor.Executor, name string, args []byte) (*executor.JoinHandle, error) {
	f, i, err := l.makeFuture(name, args, false)
	if err != nil {
		return nil, err
	}
	return e.SpawnForeign(f, l.taskNames[i], (*untracked)(l))
}
