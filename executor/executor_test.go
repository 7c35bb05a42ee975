package executor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newExec(t *testing.T, workers int) *Executor {
	t.Helper()
	e, err := New(Config{Workers: workers})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func await(t *testing.T, h *JoinHandle) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return h.Await(ctx)
}

func TestReadyFuture(t *testing.T) {
	e := newExec(t, 1)
	h, err := e.Spawn(FutureFunc(func(cx *Context) (bool, any, error) { return true, 42, nil }))
	require.NoError(t, err)
	v, err := await(t, h)
	require.NoError(t, err)
	require.Equal(t, 42, v)
	s := e.Stats()
	require.EqualValues(t, 1, s.Completed)
	require.EqualValues(t, 0, s.Pending)
}

// selfWake returns Pending n times, waking itself by reference each time.
type selfWake struct {
	n, polls int
}

func (f *selfWake) Poll(cx *Context) (bool, any, error) {
	f.polls++
	if f.polls > f.n {
		return true, f.polls, nil
	}
	cx.Waker().WakeByRef()
	return false, nil, nil
}

func TestSelfWakingFutureIsPolledAgain(t *testing.T) {
	e := newExec(t, 2)
	var hs []*JoinHandle
	for range 100 {
		h, err := e.Spawn(&selfWake{n: 50})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for _, h := range hs {
		v, err := await(t, h)
		require.NoError(t, err)
		require.Equal(t, 51, v)
	}
	require.EqualValues(t, 100*51, e.Stats().Polled)
}

// wokenFromGoroutines is pending until 8 goroutines each woke it 1000 times;
// it checks it is never polled concurrently.
type wokenFromGoroutines struct {
	started  bool
	inPoll   atomic.Bool
	finished atomic.Int32
	overlap  atomic.Bool
}

func (f *wokenFromGoroutines) Poll(cx *Context) (bool, any, error) {
	if f.inPoll.Swap(true) {
		f.overlap.Store(true)
	}
	defer f.inPoll.Store(false)
	if !f.started {
		f.started = true
		for range 8 {
			w := cx.Waker().Clone()
			go func() {
				for range 1000 {
					w.WakeByRef()
				}
				f.finished.Add(1)
				w.Wake()
			}()
		}
	}
	if f.finished.Load() == 8 {
		return true, nil, nil
	}
	return false, nil, nil
}

func TestWokenFromManyThreadsNeverConcurrent(t *testing.T) {
	e := newExec(t, 2)
	f := &wokenFromGoroutines{}
	h, err := e.Spawn(f)
	require.NoError(t, err)
	_, err = await(t, h)
	require.NoError(t, err)
	require.False(t, f.overlap.Load(), "polled concurrently")
}

type pendingForever struct {
	drops  *atomic.Int64
	waker  Waker
	cancel bool
	asked  bool
}

func (f *pendingForever) Poll(cx *Context) (bool, any, error) {
	if f.asked {
		return true, nil, ErrCancelled
	}
	if f.waker.IsZero() {
		f.waker = cx.Waker().Clone()
	}
	return false, nil, nil
}

func (f *pendingForever) Drop() {
	f.drops.Add(1)
	if !f.waker.IsZero() {
		f.waker.Drop()
	}
}

func (f *pendingForever) Cancel() bool {
	f.asked = true
	return f.cancel
}

func TestCloseDropsEveryPendingTaskOnce(t *testing.T) {
	e, err := New(Config{Workers: 2})
	require.NoError(t, err)
	var drops atomic.Int64
	var hs []*JoinHandle
	for range 10_000 {
		h, err := e.Spawn(&pendingForever{drops: &drops})
		require.NoError(t, err)
		hs = append(hs, h)
	}
	require.Eventually(t, func() bool { return e.Stats().Polled >= 10_000 }, 20*time.Second, time.Millisecond)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "a second Close is harmless")
	require.EqualValues(t, 10_000, drops.Load())
	for _, h := range hs {
		_, err := h.Result()
		require.ErrorIs(t, err, ErrClosed)
	}
	_, err = e.Spawn(&pendingForever{drops: &drops})
	require.ErrorIs(t, err, ErrClosed)
	require.EqualValues(t, 10_001, drops.Load(), "Spawn after Close drops the future it refuses")
	s := e.Stats()
	require.EqualValues(t, 0, s.Pending)
}

func TestCancel(t *testing.T) {
	e := newExec(t, 1)
	var drops atomic.Int64
	for _, graceful := range []bool{true, false} {
		f := &pendingForever{drops: &drops, cancel: graceful}
		h, err := e.Spawn(f)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return e.Stats().Polled > 0 }, 5*time.Second, time.Millisecond)
		h.Cancel()
		h.Cancel()
		_, err = await(t, h)
		require.ErrorIs(t, err, ErrCancelled)
	}
	require.EqualValues(t, 2, drops.Load())
	require.EqualValues(t, 2, e.Stats().Cancelled)
}

func TestAwaitHonoursContext(t *testing.T) {
	e := newExec(t, 1)
	var drops atomic.Int64
	h, err := e.Spawn(&pendingForever{drops: &drops})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = h.Await(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	<-h.Done()
	_, err = h.Result()
	require.ErrorIs(t, err, ErrCancelled)
	require.EqualValues(t, 1, drops.Load())
}

func TestPanicBecomesTaskError(t *testing.T) {
	e := newExec(t, 1)
	h, err := e.Spawn(FutureFunc(func(cx *Context) (bool, any, error) { panic("boom") }), Name("panicky"))
	require.NoError(t, err)
	_, err = await(t, h)
	var te *TaskError
	require.True(t, errors.As(err, &te), "%v", err)
	require.Contains(t, err.Error(), "panicky")
	require.Contains(t, err.Error(), "boom")
	require.EqualValues(t, 1, e.Stats().Failed)
}

func TestSpawnFromManyGoroutines(t *testing.T) {
	e := newExec(t, 2)
	var wg sync.WaitGroup
	var sum atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				v := g*1000 + i
				h, err := e.Spawn(FutureFunc(func(*Context) (bool, any, error) { return true, v, nil }))
				if err != nil {
					t.Error(err)
					return
				}
				r, err := await(t, h)
				if err != nil {
					t.Error(err)
					return
				}
				sum.Add(int64(r.(int)))
			}
		}()
	}
	wg.Wait()
	want := int64(0)
	for g := range 8 {
		for i := range 500 {
			want += int64(g*1000 + i)
		}
	}
	require.Equal(t, want, sum.Load())
}

func TestSleepFiresNotEarly(t *testing.T) {
	e := newExec(t, 1)
	start := time.Now()
	var hs []*JoinHandle
	for _, d := range []time.Duration{3 * time.Millisecond, 1 * time.Millisecond, 2 * time.Millisecond} {
		h, err := e.Spawn(Sleep(d))
		require.NoError(t, err)
		hs = append(hs, h)
	}
	for i, d := range []time.Duration{3 * time.Millisecond, 1 * time.Millisecond, 2 * time.Millisecond} {
		_, err := await(t, hs[i])
		require.NoError(t, err)
		require.GreaterOrEqual(t, time.Since(start), d)
	}
}

// TestSpawnRacingCloseNeverLosesATask spawns from several goroutines while
// Close runs: every spawn either is refused (and drops its future) or gives
// a task that finishes with ErrClosed or its value; every future is dropped
// exactly once and the counters balance.
func TestSpawnRacingCloseNeverLosesATask(t *testing.T) {
	for round := range 20 {
		e, err := New(Config{Workers: 2})
		require.NoError(t, err)
		var drops, refused atomic.Int64
		var unexpected atomic.Value
		var mu sync.Mutex
		var hs []*JoinHandle
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range 500 {
					h, err := e.Spawn(&pendingForever{drops: &drops})
					if err != nil {
						if !errors.Is(err, ErrClosed) {
							unexpected.Store(err)
						}
						refused.Add(1)
						continue
					}
					mu.Lock()
					hs = append(hs, h)
					mu.Unlock()
				}
			}()
		}
		close(start)
		if round%2 == 1 {
			time.Sleep(time.Duration(round) * 50 * time.Microsecond)
		}
		require.NoError(t, e.Close())
		wg.Wait()
		require.Nil(t, unexpected.Load(), "Spawn failed with something other than ErrClosed")
		for _, h := range hs {
			select {
			case <-h.Done():
			default:
				t.Fatalf("round %d: task %d accepted before Close never finished", round, h.ID())
			}
			_, err := h.Result()
			require.ErrorIs(t, err, ErrClosed)
		}
		require.EqualValues(t, 4*500, drops.Load(), "round %d: every future dropped exactly once", round)
		require.EqualValues(t, 4*500, int64(len(hs))+refused.Load())
		s := e.Stats()
		require.Zero(t, s.Pending, "round %d: %+v", round, s)
		// Spawned counts ids handed out: accepted tasks plus refusals that
		// got an id before the inbox said closed; each of those is counted
		// cancelled, as is every accepted task (dropped by Close).
		require.Equal(t, s.Spawned, s.Cancelled, "round %d: %+v", round, s)
		require.GreaterOrEqual(t, s.Spawned, uint64(len(hs)))
		require.LessOrEqual(t, s.Spawned, uint64(len(hs))+uint64(refused.Load()))
	}
}

// TestNewFailingAtALaterWorkerStopsTheEarlierOnes makes the third worker's
// creation fail: New must return the error (naming the worker) without
// hanging, and the workers it had started must have exited.
func TestNewFailingAtALaterWorkerStopsTheEarlierOnes(t *testing.T) {
	workerFault = func(idx int) error {
		if idx == 2 {
			return errors.New("injected fault")
		}
		return nil
	}
	defer func() { workerFault = nil }()
	done := make(chan error, 1)
	go func() {
		_, err := New(Config{Workers: 4})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "awake: worker 2: injected fault")
	case <-time.After(20 * time.Second):
		t.Fatal("New hung after a worker failed to start")
	}
}
