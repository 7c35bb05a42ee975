package cbindings

import (
	"github.com/awake-rt/awake/executor"
)

// Future makes a future from export name and wraps it for the executor:
// spawn the result with (*executor.Executor).Spawn. The library counts it as
// live until the executor drops it.
func (l *Library) Future(name string, args []byte) (*executor.Foreign, error) {
	f, err := l.makeFuture(name, args, false)
	if err != nil {
		return nil, err
	}
	return &executor.Foreign{F: f, Name: l.taskName(name), Owner: (*untracked)(l)}, nil
}

// taskName returns "plugin/export", built once per export.
func (l *Library) taskName(export string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.taskNames[export]; ok {
		return n
	}
	if l.taskNames == nil {
		l.taskNames = map[string]string{}
	}
	n := l.desc.name + "/" + export
	l.taskNames[export] = n
	return n
}
