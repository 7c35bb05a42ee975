package awake_test

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake"
	"github.com/awake-rt/awake/executor"
	"github.com/awake-rt/awake/internal/ctest"
)

// syncBuffer is a log sink safe for the workers' concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func faults(t *testing.T, opts ...awake.Option) (*awake.Runtime, *awake.Plugin, *syncBuffer) {
	t.Helper()
	buildMu.Lock()
	so := ctest.Build(t, ctest.Shared, []string{"testdata/faults/faults.c"}, "-pthread")
	buildMu.Unlock()
	logs := &syncBuffer{}
	opts = append([]awake.Option{awake.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), awake.WithWorkers(1)}, opts...)
	rt, err := awake.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	p, err := rt.Load(so)
	require.NoError(t, err)
	return rt, p, logs
}

func TestPendingWithoutWakerFailsTheTask(t *testing.T) {
	rt, p, logs := faults(t)
	_, err := p.Call(ctx(t), "no_waker", nil)
	require.ErrorIs(t, err, executor.ErrNoWaker)
	require.ErrorContains(t, err, "faults/no_waker")
	require.EqualValues(t, 1, rt.Stats().LostWakers)
	require.Contains(t, logs.String(), "without keeping its waker")
	require.Contains(t, logs.String(), "name=faults/no_waker")
}

func TestPendingWithoutWakerReportOnly(t *testing.T) {
	rt, p, logs := faults(t, awake.WithLostWakerPolicy(executor.ReportLostWaker))
	task, err := p.Spawn("no_waker", nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return rt.Stats().LostWakers == 1 }, 10*time.Second, time.Millisecond)
	select {
	case <-task.Done():
		t.Fatal("report-only must leave the task pending")
	default:
	}
	require.Contains(t, logs.String(), "policy=report")
}

func TestInvalidStatusesBecomeErrors(t *testing.T) {
	_, p, _ := faults(t)
	for export, want := range map[string]string{
		"bad_status":      "poll returned 99, which is not an awake status",
		"misuse_status":   "AWAKE_MISUSE",
		"error_no_object": "without an error object",
	} {
		_, err := p.Call(ctx(t), export, nil)
		var te *awake.TaskError
		require.ErrorAs(t, err, &te, export)
		require.ErrorContains(t, err, "faults/"+export)
		require.ErrorContains(t, err, want)
	}
}

func TestOverDropIsRepairedAndReported(t *testing.T) {
	rt, p, logs := faults(t)
	_, err := p.Call(ctx(t), "overdrop", nil)
	require.NoError(t, err, "the task still completes")
	require.EqualValues(t, 1, rt.Stats().WakerMisuse)
	require.Contains(t, logs.String(), "dropped more times than it was cloned")
	require.Contains(t, logs.String(), "name=faults/overdrop")
	// The repaired cell is not shared with later tasks.
	_, err = p.Call(ctx(t), "ready_with_wake", nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, rt.Stats().SpuriousWakes)
}

func TestUseAfterLastDropIsReportedInCheckedMode(t *testing.T) {
	rt, p, logs := faults(t, awake.WithChecked())
	_, err := p.Call(ctx(t), "late_drop", nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, rt.Stats().WakersHeld, "the clone outlived the task")
	// The plugin thread drops its clone twice 20 ms later; nudge the worker
	// through a few idle turns so it scans its retired cells.
	require.Eventually(t, func() bool {
		_, _ = p.Call(ctx(t), "ready_with_wake", nil)
		return rt.Stats().WakerMisuse == 1
	}, 10*time.Second, 5*time.Millisecond)
	require.Contains(t, logs.String(), "after its last drop")
	require.Contains(t, logs.String(), "name=faults/late_drop")
}
