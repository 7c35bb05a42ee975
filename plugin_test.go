package awake_test

import (
	"context"
	"fmt"
	"strconv"
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

// TestSelfWakingTasksArePolledExactlyAsOftenAsTheyAsk runs tasks that wake
// themselves during their poll (the batch poller polls them again inside
// the same crossing, up to its budget, then through the run queue): every
// task must see exactly n+1 polls, and the executor must count exactly the
// polls the tasks counted. Counts below, at and far above the per-crossing
// budget, with one task alone and with batches.
func TestSelfWakingTasksArePolledExactlyAsOftenAsTheyAsk(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		counts  []int
	}{
		{"alone", 1, []int{5000}},
		{"re-poll limit edges", 1, []int{14, 15, 16, 17, 31, 32, 33}},
		{"batch", 1, []int{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200, 210, 220, 230, 240, 250, 260, 270, 280, 290, 300, 310, 320, 330, 340, 350, 360, 370, 380, 390, 400, 410, 420, 430, 440, 450, 460, 470, 480, 490, 500}},
		{"two workers", 2, []int{5000, 1, 300, 7000, 64, 65}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, p, counter := testkit(t, awake.WithWorkers(tc.workers))
			s0 := rt.Stats()
			tasks := make([]*awake.Task, len(tc.counts))
			want := uint64(0)
			for i, n := range tc.counts {
				var err error
				tasks[i], err = p.Spawn("yield", []byte(strconv.Itoa(n)))
				require.NoError(t, err)
				want += uint64(n + 1)
			}
			for i, task := range tasks {
				out, err := task.Await(ctx(t))
				require.NoError(t, err)
				require.Equal(t, fmt.Sprintf("yielded %d times in %d polls", tc.counts[i], tc.counts[i]+1), string(out.([]byte)))
			}
			s := rt.Stats()
			require.Equal(t, want, s.Polled-s0.Polled, "the executor counts every poll, re-polls included")
			if tc.name == "alone" {
				// Up to 16 polls in a row: the run queue sees one wake per
				// 16 polls (5001 polls: 312), not one per poll.
				require.LessOrEqual(t, s.Woken-s0.Woken, uint64(5000/16+1), "self-wakes went through the run queue")
			}
			require.Zero(t, s.SpuriousWakes)
			require.Zero(t, s.WakerMisuse)
			require.Zero(t, counter("concurrent_polls"))
			require.Zero(t, counter("live_wakers"))
		})
	}
}

// Plugin.SpawnBatch: one task per element, outputs in order, a make error
// from the worker reported by the task's Await, and every future released.
func TestSpawnBatchAndMakeErrorsThroughThePlugin(t *testing.T) {
	rt, p, counter := testkit(t, awake.WithWorkers(2))
	args := make([][]byte, 200)
	for i := range args {
		args[i] = []byte(fmt.Sprint(i % 7))
	}
	tasks, err := p.SpawnBatch("yield", args)
	require.NoError(t, err)
	require.Len(t, tasks, len(args))
	for i, task := range tasks {
		out, err := task.Await(ctx(t))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("yielded %d times in %d polls", i%7, i%7+1), string(out.([]byte)))
	}
	// yield's make refuses arguments that are not a number: Spawn accepts
	// the task, and its Await names the plugin, the export and the reason.
	task, err := p.Spawn("yield", []byte("many"))
	require.NoError(t, err)
	_, err = task.Await(ctx(t))
	require.ErrorIs(t, err, awake.ErrMake)
	require.ErrorContains(t, err, `export "yield"`)
	_, err = p.SpawnBatch("no such export", args)
	require.ErrorIs(t, err, awake.ErrNoExport)
	require.Zero(t, counter("live_futures"))
	require.EqualValues(t, len(args), rt.Stats().Completed)
}
