package cbindings

import (
	"sync"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/executor"
)

// joinFuture is the future host->spawn hands back: it completes with the
// spawned task's output. Dropping it detaches the task (it keeps running).
type joinFuture struct {
	h      *executor.JoinHandle
	vt     *abi.FutureVtable
	waiter wakerSlot
	once   sync.Once
	p      executor.Poller
	done   bool
}

// newJoinFuture makes the join future of task h, shaped like the spawned
// future's vtable (same output size, alignment and flags).
func newJoinFuture(p executor.Poller, h *executor.JoinHandle, child *abi.FutureVtable) abi.Future {
	j := &joinFuture{h: h, p: p}
	f := registerHostFuture(j, child.OutputSize, child.OutputAlign, abi.FutureSend|child.Flags&abi.FutureOutputBytes)
	j.vt = f.Vtable
	return f
}

func (j *joinFuture) poll(w abi.Waker, out, errOut uintptr) int32 {
	if j.done {
		return abi.Misuse
	}
	if j.h.Finished() {
		j.done = true
		j.waiter.drop()
		v, err := j.h.Result()
		return writeResult(v, err, j.vt, out, errOut)
	}
	j.waiter.park(w)
	j.once.Do(func() { j.p.OnDone(j.h, j.waiter.wake) })
	return abi.Pending
}

func (j *joinFuture) drop()         { j.waiter.drop() }
func (j *joinFuture) cancel() int32 { j.h.Cancel(); return abi.OK }
