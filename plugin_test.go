package awake_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake"
	"github.com/awake-rt/awake/internal/ctest"
)

// testkit builds testdata/cplugins/testkit.c and returns a function reading
// one of its counters.
func testkit(t *testing.T, opts ...awake.Option) (*awake.Runtime, *awake.Plugin, func(string) int64) {
	t.Helper()
	buildMu.Lock()
	so := ctest.Build(t, ctest.Shared, []string{"testdata/cplugins/testkit.c"}, "-pthread")
	buildMu.Unlock()
	rt, err := awake.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	p, err := rt.Load(so)
	require.NoError(t, err)
	counter := func(name string) int64 {
		fn, err := p.Library().Symbol("testkit_" + name)
		require.NoError(t, err)
		r, _, _ := purego.SyscallN(fn)
		return int64(r)
	}
	return rt, p, counter
}

func TestWokenFromEightForeignThreads(t *testing.T) {
	rt, p, counter := testkit(t, awake.WithWorkers(2))
	var tasks []*awake.Task
	for range 4 {
		task, err := p.Spawn("wake_from_threads", []byte("8 20000"))
		require.NoError(t, err)
		tasks = append(tasks, task)
	}
	for _, task := range tasks {
		out, err := task.Await(ctx(t))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(out.([]byte)), "8 threads x 20000 wakes"), "%s", out)
	}
	require.Zero(t, counter("concurrent_polls"), "a task was polled concurrently")
	require.Zero(t, counter("live_wakers"), "waker clones leaked")
	require.Zero(t, counter("live_futures"))
	s := rt.Stats()
	require.EqualValues(t, 4, s.Completed)
	require.Greater(t, s.Polled, uint64(4), "woken tasks were polled again")
}

func TestCloseDropsTenThousandPendingPluginTasksOnce(t *testing.T) {
	rt, p, counter := testkit(t)
	const n = 10_000
	tasks := make([]*awake.Task, n)
	for i := range tasks {
		var err error
		tasks[i], err = p.Spawn("forever", nil)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return rt.Stats().Polled >= n }, 20*time.Second, time.Millisecond)
	require.EqualValues(t, n, counter("live_futures"))
	require.NoError(t, rt.Close())
	require.NoError(t, rt.Close())
	require.EqualValues(t, n, counter("drops"), "every pending future dropped exactly once")
	require.Zero(t, counter("live_futures"))
	require.Zero(t, counter("live_wakers"), "each dropped future released its waker clone")
	for _, task := range tasks {
		_, err := task.Result()
		require.ErrorIs(t, err, awake.ErrClosed)
	}
	_, err := p.Spawn("ready", nil)
	require.Error(t, err)
}

func TestPluginErrorsAndCancel(t *testing.T) {
	rt, p, counter := testkit(t, awake.WithWorkers(1))
	_, err := p.Call(ctx(t), "error", []byte("disk on fire"))
	require.ErrorContains(t, err, "testkit/error")
	require.ErrorContains(t, err, "error 42: disk on fire")

	out, err := p.Call(ctx(t), "yield", []byte("100"))
	require.NoError(t, err)
	require.Equal(t, "yielded 100 times in 101 polls", string(out))

	task, err := p.Spawn("forever", nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return counter("live_wakers") == 1 }, 10*time.Second, time.Millisecond)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = task.Await(c)
	require.ErrorIs(t, err, context.Canceled)
	<-task.Done()
	_, err = task.Result()
	require.ErrorIs(t, err, awake.ErrCancelled, "forever has a cancel function and finishes with AWAKE_CANCELLED")
	require.Zero(t, counter("live_futures"))
	require.EqualValues(t, 1, rt.Stats().Cancelled)
}

func TestSymbolLookupErrorNamesSymbol(t *testing.T) {
	_, p, _ := testkit(t)
	_, err := p.Library().Symbol("testkit_nope")
	require.ErrorContains(t, err, "testkit_nope")
	require.ErrorContains(t, err, p.Path())
	var le *awake.LoadError
	require.ErrorAs(t, err, &le)
}
