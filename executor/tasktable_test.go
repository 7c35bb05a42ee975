package executor

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake/vtable"
)

func TestTaskTableTokenOfAReusedSlotIsStale(t *testing.T) {
	var tt taskTable
	a, b, c := new(task), new(task), new(task)
	ta := tt.insert(a)
	tb := tt.insert(b)
	require.NotZero(t, ta, "0 is the inbox token")
	require.NotEqual(t, ta, tb)
	require.Same(t, a, tt.lookup(ta))
	require.Same(t, b, tt.lookup(tb))
	tt.remove(ta, a)
	require.Nil(t, tt.lookup(ta), "an emptied slot")
	tc := tt.insert(c)
	require.Equal(t, uint32(ta), uint32(tc), "the free slot is reused")
	require.NotEqual(t, ta, tc, "with a new generation")
	require.Nil(t, tt.lookup(ta), "the old token never names the slot's new task")
	require.Same(t, c, tt.lookup(tc))
	tt.remove(ta, a) // stale: must not empty c's slot
	require.Same(t, c, tt.lookup(tc))
	require.Equal(t, 2, tt.live)
	for _, tok := range []uint64{inboxToken, 1 << 40, 99, tb + 1} {
		require.Nil(t, tt.lookup(tok), "token %#x", tok)
	}
}

// parked keeps a clone of its waker and stays pending until told, counting
// its polls.
type parked struct {
	polls  atomic.Int64
	first  chan struct{}
	waker  Waker
	finish atomic.Bool
}

func (f *parked) Poll(cx *Context) (bool, any, error) {
	if f.polls.Add(1) == 1 {
		f.waker = cx.Waker().Clone()
		close(f.first)
	}
	if f.finish.Load() {
		f.waker.Drop()
		return true, nil, nil
	}
	return false, nil, nil
}

// TestStaleWakeOfAReusedSlotIsNotDelivered: a task finishes while a clone of
// its waker lives on; the next task takes its slot; a wake through the old
// clone is counted as stale and never polls the new task.
func TestStaleWakeOfAReusedSlotIsNotDelivered(t *testing.T) {
	e := newExec(t, 1)
	var old Waker
	h, err := e.Spawn(FutureFunc(func(cx *Context) (bool, any, error) {
		old = cx.Waker().Clone()
		return true, nil, nil
	}))
	require.NoError(t, err)
	_, err = await(t, h)
	require.NoError(t, err)

	f := &parked{first: make(chan struct{})}
	hb, err := e.Spawn(f)
	require.NoError(t, err)
	<-f.first
	oldTok, newTok := vtable.Token(old.ABI()), vtable.Token(hb.task().waker())
	require.Equal(t, uint32(oldTok), uint32(newTok), "the new task reuses the finished task's slot")
	require.NotEqual(t, oldTok, newTok)

	stale := e.Stats().StaleWakes
	old.WakeByRef()
	// A task spawned after the wake is polled in the same or a later round:
	// once it is done, the wake was handled.
	hc, err := e.Spawn(FutureFunc(func(cx *Context) (bool, any, error) { return true, nil, nil }))
	require.NoError(t, err)
	_, err = await(t, hc)
	require.NoError(t, err)
	require.Equal(t, stale+1, e.Stats().StaleWakes)
	require.EqualValues(t, 1, f.polls.Load(), "the stale wake polled the slot's new task")

	old.Drop()
	f.finish.Store(true)
	f.waker.WakeByRef()
	_, err = await(t, hb)
	require.NoError(t, err)
	require.EqualValues(t, 2, f.polls.Load())
}
