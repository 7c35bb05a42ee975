package cbindings

import (
	"github.com/awake-rt/awake/executor"
)

// Future makes a future from export name and wraps it for the executor:
// spawn the result with (*executor.Executor).Spawn. The library counts it as
// live until the executor drops it.
func (l *Library) Future(name string, args []byte) (*executor.Foreign, error) {
	f, err := l.MakeFuture(name, args)
	if err != nil {
		return nil, err
	}
	fo := &executor.Foreign{F: f, Name: l.desc.name + "/" + name}
	fo.DropFunc = func() { _ = l.DropFuture(f) }
	return fo, nil
}
