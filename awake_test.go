package awake_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake"
	"github.com/awake-rt/awake/internal/ctest"
)

// Integration tests: the example plugins in examples/c, built with $CC,
// loaded and driven by a Runtime.

var buildMu sync.Mutex

// example builds examples/c/<name>.c as a plugin.
func example(t *testing.T, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	return ctest.Build(t, ctest.Shared, []string{"examples/c/" + name + ".c"}, "-pthread")
}

func runtimeWith(t *testing.T, plugin string, opts ...awake.Option) (*awake.Runtime, *awake.Plugin) {
	t.Helper()
	// Build before starting workers: fork+exec of the compiler while worker
	// threads run occasionally hangs under qemu-user (the arm64 tier).
	so := example(t, plugin)
	rt, err := awake.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	p, err := rt.Load(so)
	require.NoError(t, err)
	return rt, p
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestTimersFireInDeadlineOrderAndNotEarly(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the order check needs a machine that keeps 40 ms apart (not qemu-user)")
	}
	_, p := runtimeWith(t, "timer", awake.WithWorkers(1))
	// 40 ms apart: far more than the spawn-to-first-poll spread, even under
	// the race detector, so the order observed from goroutines is the
	// order the timers fired in.
	durs := []time.Duration{100, 20, 140, 60, 180}
	type done struct {
		d  time.Duration
		at time.Duration
	}
	var mu sync.Mutex
	var order []done
	var wg sync.WaitGroup
	start := time.Now()
	for _, d := range durs {
		d *= time.Millisecond
		task, err := p.Spawn("sleep", []byte(d.String()))
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := task.Await(ctx(t))
			require.NoError(t, err)
			mu.Lock()
			order = append(order, done{d, time.Since(start)})
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.True(t, sort.SliceIsSorted(order, func(i, j int) bool { return order[i].d < order[j].d }), "completion order %v", order)
	for _, o := range order {
		require.GreaterOrEqual(t, o.at, o.d, "a %v timer completed after %v", o.d, o.at)
	}
}

func TestCancelledTimerNeverWakes(t *testing.T) {
	rt, p := runtimeWith(t, "timer", awake.WithWorkers(1))
	task, err := p.Spawn("sleep", []byte("300ms"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return rt.Stats().Polled >= 1 }, 10*time.Second, time.Millisecond)
	task.Cancel()
	<-task.Done()
	_, err = task.Result()
	require.ErrorIs(t, err, awake.ErrCancelled)
	before := rt.Stats()
	time.Sleep(400 * time.Millisecond) // past the deadline the timer had
	after := rt.Stats()
	require.Equal(t, before.Polled, after.Polled, "no poll after cancellation")
	require.Equal(t, before.Woken, after.Woken, "the closed timer never woke anything")
	require.Zero(t, after.StaleWakes)
	require.Zero(t, p.Library().Live(), "the plugin's future was dropped")
}

func TestTenThousandTimers(t *testing.T) {
	rt, p := runtimeWith(t, "timer")
	const n = 10_000
	tasks := make([]*awake.Task, n)
	for i := range tasks {
		var err error
		tasks[i], err = p.Spawn("sleep", []byte(fmt.Sprintf("%dus", 1000+i%5000)))
		require.NoError(t, err)
	}
	for _, task := range tasks {
		out, err := task.Await(ctx(t))
		require.NoError(t, err)
		require.Contains(t, string(out.([]byte)), "slept")
	}
	s := rt.Stats()
	require.EqualValues(t, n, s.Completed)
	require.Zero(t, s.Pending)
	require.Zero(t, p.Library().Live())
}

func TestAwaitHonoursContextCancellation(t *testing.T) {
	_, p := runtimeWith(t, "timer", awake.WithWorkers(1))
	task, err := p.Spawn("sleep", []byte("10s"))
	require.NoError(t, err)
	c, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = task.Await(c)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	select {
	case <-task.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the task was not cancelled when its Await's context ended")
	}
	require.Zero(t, p.Library().Live())
}

func TestPendingRequestWokenFromWorkerThread(t *testing.T) {
	rt, p := runtimeWith(t, "pending_request")
	out, err := p.Call(ctx(t), "query", []byte("SELECT 42|20"))
	require.NoError(t, err)
	require.Equal(t, `result of "SELECT 42" after 20 ms`, string(out))
	_, err = p.Call(ctx(t), "query", []byte("DROP TABLE x|5"))
	var te *awake.TaskError
	require.ErrorAs(t, err, &te)
	require.Contains(t, err.Error(), "pending_request/query")
	require.EqualValues(t, 1, rt.Stats().Failed)
}

func TestJoinInC(t *testing.T) {
	_, p := runtimeWith(t, "join")
	for _, export := range []string{"join_timers", "join_timers_wakers"} {
		out, err := p.Call(ctx(t), export, []byte("5 10 15"))
		require.NoError(t, err)
		require.Contains(t, string(out), "joined 3 timers")
	}
}

func TestEchoServesHundredConnections(t *testing.T) {
	_, p := runtimeWith(t, "echo")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	const conns, msgs, size = 100, 20, 512
	server, err := p.Spawn("echo_serve", []byte(fmt.Sprintf("%d %d", port, conns)))
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- echoClient(fmt.Sprintf("127.0.0.1:%d", port), msgs, size, byte(i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	out, err := server.Await(ctx(t))
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("served %d connections, %d bytes", conns, conns*msgs*size), string(out.([]byte)))
}

func echoClient(addr string, msgs, size int, seed byte) error {
	var c net.Conn
	var err error
	for range 100 {
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	msg, got := make([]byte, size), make([]byte, size)
	for m := range msgs {
		for i := range msg {
			msg[i] = seed + byte(m) + byte(i)
		}
		if _, err := c.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, got); err != nil {
			return err
		}
		if !bytes.Equal(msg, got) {
			return fmt.Errorf("message %d came back different", m)
		}
	}
	return c.(*net.TCPConn).CloseWrite()
}
