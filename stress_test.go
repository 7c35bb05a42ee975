package awake_test

// Load tests (issue 5): foreign threads waking random tasks, a million live
// host timers with random cancels, 100k concurrent tasks, the echo plugin
// with 1000 connections, and a soak whose memory and fd count stay flat.
//
// `go test` runs them at a size that takes seconds; AWAKE_STRESS=full (make
// stress) runs them at full size. Every count is exact: the test plugin
// (testdata/stress/stress.c) reports what it sent and saw, and the
// executor's counters must agree with it. Skipped under -short (the arm64
// tier runs under qemu, where the full root package already takes minutes).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/require"

	"github.com/awake-rt/awake"
	"github.com/awake-rt/awake/internal/ctest"
)

// fullStress reports whether the full sizes were asked for.
func fullStress() bool { return os.Getenv("AWAKE_STRESS") == "full" }

// stressSize returns the quick size, a smaller one under the race detector
// (which slows the Go side several times), or the full size.
func stressSize(quick, race, full int) int {
	switch {
	case fullStress():
		return full
	case raceOn:
		return race
	}
	return quick
}

// stressDeadline bounds every wait of a stress test: far beyond what the
// test needs, it only turns a hang into a failure with a message.
func stressDeadline() time.Duration {
	if fullStress() {
		return 10 * time.Minute
	}
	return 2 * time.Minute
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("stress test: skipped with -short")
	}
}

// stressKit is a runtime with testdata/stress/stress.c loaded.
type stressKit struct {
	rt  *awake.Runtime
	p   *awake.Plugin
	fns map[string]uintptr
	ctx context.Context // bounds every Await of the test
}

// builtOnce holds the bytes of the plugins the stress tests built, by
// source: each test compiles a source once per package run and gets its own
// copy of the library (a distinct file is a distinct dlopen, with its own
// static state).
var builtOnce = map[string][]byte{}

// stressBuild returns the path of a fresh copy, in t.TempDir(), of the
// plugin built from src with flags.
func stressBuild(t *testing.T, src string, flags ...string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := src + " " + strings.Join(flags, " ")
	b, ok := builtOnce[key]
	if !ok {
		so := ctest.Build(t, ctest.Shared, []string{src}, flags...)
		var err error
		b, err = os.ReadFile(so)
		require.NoError(t, err)
		builtOnce[key] = b
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(strings.TrimSuffix(src, ".c"))+".so")
	require.NoError(t, os.WriteFile(dst, b, 0o755))
	return dst
}

func newStressKit(t *testing.T, opts ...awake.Option) *stressKit {
	t.Helper()
	so := stressBuild(t, "testdata/stress/stress.c", "-pthread", "-O2")
	rt, err := awake.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	p, err := rt.Load(so)
	require.NoError(t, err)
	return &stressKit{rt: rt, p: p, fns: map[string]uintptr{}, ctx: stressCtx(t)}
}

// call calls the plugin's plain C function stress_<name>.
func (k *stressKit) call(t *testing.T, name string, args ...uintptr) uintptr {
	t.Helper()
	fn, ok := k.fns[name]
	if !ok {
		var err error
		fn, err = k.p.Library().Symbol("stress_" + name)
		require.NoError(t, err)
		k.fns[name] = fn
	}
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

func (k *stressKit) counter(t *testing.T, name string) int64 { return int64(k.call(t, name)) }

// waitFor polls cond until it holds; the deadline only guards against a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(stressDeadline())
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting for %s after %v", what, stressDeadline())
		}
		time.Sleep(time.Millisecond)
	}
}

// stressCtx is the context of a whole stress test (one per test: each
// registers a cleanup).
func stressCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), stressDeadline())
	t.Cleanup(cancel)
	return c
}

// field returns the number after word in a "word n word n" output.
func field(t *testing.T, out, word string) uint64 {
	t.Helper()
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == word {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			require.NoError(t, err, "output %q", out)
			return n
		}
	}
	t.Fatalf("output %q has no %q", out, word)
	return 0
}

// spawnSlots spawns export with args(i) for slots [from, to).
func (k *stressKit) spawnSlots(t *testing.T, export string, from, to int, args func(i int) string) []*awake.Task {
	t.Helper()
	tasks := make([]*awake.Task, 0, to-from)
	for i := from; i < to; i++ {
		task, err := k.p.Spawn(export, []byte(args(i)))
		require.NoError(t, err)
		tasks = append(tasks, task)
	}
	return tasks
}

// hitResult is what the hit tasks of one run reported.
type hitResult struct{ sent, polls uint64 }

// awaitHits awaits hit tasks for slots [from, from+len(tasks)) and sums
// their reports; every slot must report exactly once.
func awaitHits(t *testing.T, ctx context.Context, tasks []*awake.Task, from int) hitResult {
	t.Helper()
	var r hitResult
	for j, task := range tasks {
		v, err := task.Await(ctx)
		require.NoError(t, err)
		out := string(v.([]byte))
		require.EqualValues(t, from+j, field(t, out, "slot"), "task %d reported another slot: %s", from+j, out)
		polls := field(t, out, "polls")
		require.GreaterOrEqual(t, polls, uint64(2), "a task completes at its second poll at the earliest: %s", out)
		r.sent += field(t, out, "sent")
		r.polls += polls
	}
	return r
}

// TestStressForeignThreadsWakeRandomTasks: 8 pthreads the host never saw
// wake random tasks' wakers (wake_by_ref, clone+wake, clone+wake_by_ref+
// drop). Every wake is accounted for; every task completes; every clone is
// released; the executor polled exactly the polls the tasks counted.
func TestStressForeignThreadsWakeRandomTasks(t *testing.T) {
	skipShort(t)
	const threads = 8
	tasks := stressSize(1000, 1000, 10_000)
	wakes := stressSize(100_000, 50_000, 10_000_000) // per thread
	k := newStressKit(t)
	require.Zero(t, k.call(t, "setup", uintptr(tasks)))
	hs := k.spawnSlots(t, "hit", 0, tasks, strconv.Itoa)
	waitFor(t, "every task to park its waker", func() bool { return k.counter(t, "registered") == int64(tasks) })

	start := time.Now()
	require.Zero(t, k.call(t, "start", threads, uintptr(wakes), 1))
	r := awaitHits(t, k.ctx, hs, 0)
	elapsed := time.Since(start)
	require.Zero(t, k.call(t, "join"))

	total := uint64(threads * wakes)
	require.Equal(t, total, r.sent, "wakes the tasks saw aimed at them")
	require.Equal(t, total, uint64(k.counter(t, "thread_wakes")))
	require.Zero(t, k.counter(t, "live_wakers"), "waker clones held by the plugin after every task ended")
	require.Zero(t, k.counter(t, "live_futures"))
	s := k.rt.Stats()
	require.EqualValues(t, tasks, s.Spawned)
	require.EqualValues(t, tasks, s.Completed)
	require.Zero(t, s.Failed+s.Cancelled+s.Pending)
	require.Zero(t, s.LostWakers)
	require.Zero(t, s.WakerMisuse)
	require.Equal(t, r.polls, s.Polled, "the executor's poll count equals the polls the tasks counted")
	require.LessOrEqual(t, s.Woken, total+uint64(tasks), "a wake schedules a task at most once")
	t.Logf("%d foreign threads x %d wakes on %d tasks: %d wakes in %v (%.1f M wakes/s), %d polls, %d scheduling wakes, %d stale, %d spurious",
		threads, wakes, tasks, total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds()/1e6, s.Polled, s.Woken, s.StaleWakes, s.SpuriousWakes)
}

// TestStressLiveTimersWithRandomCancels: tasks open k host timers each (all
// of them live at once: the plugin's count of open timers reaches tasks*k),
// re-arm them to random deadlines, close a random 10% (removals at random
// places of the timer heap), wait for the rest; the host cancels a random
// tenth of the tasks, whose drop closes their timers. No timer fires early,
// every timer is fired or cancelled, every timer is closed in the end.
func TestStressLiveTimersWithRandomCancels(t *testing.T) {
	skipShort(t)
	tasks := stressSize(40, 20, 1000)
	perTask := stressSize(1000, 500, 1000)
	spreadUs := stressSize(50_000, 50_000, 2_000_000)
	k := newStressKit(t)
	require.Zero(t, k.call(t, "setup", uintptr(tasks)))
	ts := k.spawnSlots(t, "timers", 0, tasks, func(i int) string {
		return fmt.Sprintf("%d %d %d 100 %d", i, perTask, i+1, spreadUs)
	})
	start := time.Now()
	waitFor(t, "every task to open its timers", func() bool { return k.counter(t, "registered") == int64(tasks) })
	opened := time.Since(start)
	require.EqualValues(t, tasks*perTask, k.counter(t, "timers_open"), "all timers live at once")

	k.call(t, "release")
	rng := rand.New(rand.NewPCG(1, 2))
	cancelled := map[int]bool{}
	for len(cancelled) < tasks/10 {
		i := rng.IntN(tasks)
		cancelled[i] = true
		ts[i].Cancel()
	}
	var fired, closedEarly, completed uint64
	for i, task := range ts {
		v, err := task.Await(k.ctx)
		if errors.Is(err, awake.ErrCancelled) {
			require.True(t, cancelled[i], "task %d was cancelled but the host did not cancel it", i)
			continue
		}
		require.NoError(t, err)
		out := string(v.([]byte))
		require.Zero(t, field(t, out, "early"), "a timer fired before its deadline: %s", out)
		require.EqualValues(t, perTask, field(t, out, "fired")+field(t, out, "cancelled"), "timers neither fired nor cancelled: %s", out)
		fired += field(t, out, "fired")
		closedEarly += field(t, out, "cancelled")
		completed++
	}
	elapsed := time.Since(start)
	require.Zero(t, k.counter(t, "timers_open"), "timers left open")
	require.Zero(t, k.counter(t, "live_wakers"))
	require.Zero(t, k.counter(t, "live_futures"))
	s := k.rt.Stats()
	require.EqualValues(t, tasks, s.Completed+s.Cancelled)
	require.EqualValues(t, completed, s.Completed)
	require.Zero(t, s.Failed+s.Pending+s.LostWakers+s.WakerMisuse)
	t.Logf("%d live timers in %d tasks (opened in %v); %d fired, %d closed by their task, %d tasks cancelled by the host; %v in all, %d polls",
		tasks*perTask, tasks, opened.Round(time.Millisecond), fired, closedEarly, s.Cancelled, elapsed.Round(time.Millisecond), s.Polled)
}

// goGate is a Go-side gate: Go futures park a clone of their waker in it and
// complete once it opens.
type goGate struct {
	mu     sync.Mutex
	open   bool
	wakers []awake.Waker
	parked atomic.Int64
}

func (g *goGate) future() awake.Future {
	parked := false
	return awake.FutureFunc(func(cx *awake.Context) (bool, any, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.open {
			return true, nil, nil
		}
		if !parked {
			parked = true
			g.wakers = append(g.wakers, cx.Waker().Clone())
			g.parked.Add(1)
		}
		return false, nil, nil
	})
}

func (g *goGate) release() {
	g.mu.Lock()
	g.open = true
	ws := g.wakers
	g.wakers = nil
	g.mu.Unlock()
	for _, w := range ws {
		w.Wake()
	}
}

// TestStressHundredThousandConcurrentTasks: half C futures, half Go
// futures, all spawned and pending at the same time (both gates count every
// task parked before either opens), then released at once.
func TestStressHundredThousandConcurrentTasks(t *testing.T) {
	skipShort(t)
	n := stressSize(20_000, 10_000, 100_000)
	half := n / 2
	k := newStressKit(t)
	require.Zero(t, k.call(t, "setup", uintptr(half)))
	start := time.Now()
	cTasks := k.spawnSlots(t, "hit", 0, half, strconv.Itoa)
	var g goGate
	goTasks := make([]*awake.Task, 0, n-half)
	for range n - half {
		task, err := k.rt.Spawn(g.future())
		require.NoError(t, err)
		goTasks = append(goTasks, task)
	}
	spawned := time.Since(start)
	waitFor(t, "every task to be pending", func() bool {
		return k.counter(t, "registered") == int64(half) && g.parked.Load() == int64(n-half)
	})
	s := k.rt.Stats()
	require.EqualValues(t, n, s.Pending, "all tasks alive and pending at once")

	k.call(t, "release")
	g.release()
	r := awaitHits(t, k.ctx, cTasks, 0)
	for _, task := range goTasks {
		_, err := task.Await(k.ctx)
		require.NoError(t, err)
	}
	elapsed := time.Since(start)
	require.Zero(t, r.sent)
	require.Zero(t, k.counter(t, "live_wakers"))
	require.Zero(t, k.counter(t, "live_futures"))
	s = k.rt.Stats()
	require.EqualValues(t, n, s.Completed)
	require.Zero(t, s.Pending+s.Failed+s.Cancelled+s.LostWakers+s.WakerMisuse)
	require.EqualValues(t, 2*n, s.Polled, "each task: one poll to park, one after the gate")
	t.Logf("%d concurrent tasks (%d C, %d Go): spawned in %v, all done after %v", n, half, n-half, spawned.Round(time.Millisecond), elapsed.Round(time.Millisecond))
}

// raiseFdLimit raises RLIMIT_NOFILE to at least n (up to the hard limit).
func raiseFdLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Skipf("the hard fd limit is %d; this test needs %d open files", lim.Max, n)
	}
	old := lim
	lim.Cur = n
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// openFds lists this process's open fds with what they point to.
func openFds(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own fd, closed by now
		}
		out = append(out, e.Name()+" -> "+target)
	}
	sort.Strings(out)
	return out
}

// echoRound serves conns connections with the echo plugin and drives them
// from Go: all connections are open at the same time, then each echoes
// msgs messages of size bytes.
func echoRound(t *testing.T, ctx context.Context, p *awake.Plugin, conns, msgs, size int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	server, err := p.Spawn("echo_serve", []byte(fmt.Sprintf("%d %d", port, conns)))
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cs := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for range conns {
		var c net.Conn
		for try := 0; ; try++ {
			if c, err = net.Dial("tcp", addr); err == nil || try == 200 {
				break
			}
			time.Sleep(5 * time.Millisecond) // the server task is not listening yet
		}
		require.NoError(t, err)
		cs = append(cs, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- echoOn(c, msgs, size, byte(i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	out, err := server.Await(ctx)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("served %d connections, %d bytes", conns, conns*msgs*size), string(out.([]byte)))
}

// echoOn sends msgs messages on c, checks each echo, and half-closes.
func echoOn(c net.Conn, msgs, size int, seed byte) error {
	msg, got := make([]byte, size), make([]byte, size)
	for m := range msgs {
		for i := range msg {
			msg[i] = seed + byte(m) + byte(i)
		}
		if _, err := c.Write(msg); err != nil {
			return err
		}
		if _, err := readFull(c, got); err != nil {
			return err
		}
		if string(msg) != string(got) {
			return fmt.Errorf("message %d came back different", m)
		}
	}
	return c.(*net.TCPConn).CloseWrite()
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestStressEchoThousandConnections: the echo example plugin serves 1000
// simultaneous connections (2000 sockets in this process, both ends); every
// byte comes back, and every fd is closed afterwards.
func TestStressEchoThousandConnections(t *testing.T) {
	skipShort(t)
	conns := 1000
	msgs := stressSize(3, 2, 100)
	size := stressSize(1024, 512, 4096)
	raiseFdLimit(t, uint64(2*conns+256))
	rt, err := awake.New(awake.WithLogger(quietLogger()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close() })
	p, err := rt.Load(stressBuild(t, "examples/c/echo.c", "-pthread"))
	require.NoError(t, err)
	warm, err := net.Listen("tcp", "127.0.0.1:0") // Go's netpoller fds exist before the count
	require.NoError(t, err)
	warm.Close()
	before := openFds(t)
	start := time.Now()
	echoRound(t, stressCtx(t), p, conns, msgs, size)
	elapsed := time.Since(start)
	waitFor(t, "every connection task to end", func() bool { return rt.Stats().Pending == 0 })
	require.Equal(t, before, openFds(t), "fds before and after")
	s := rt.Stats()
	require.Zero(t, s.Failed+s.LostWakers+s.WakerMisuse)
	t.Logf("echo: %d connections x %d messages x %d bytes in %v; %d tasks, %d polls", conns, msgs, size, elapsed.Round(time.Millisecond), s.Spawned, s.Polled)
}

// sanitized reports whether the test plugins are built with sanitizers
// (scripts/asan sets AWAKE_CFLAGS, which internal/ctest adds to every build).
func sanitized() bool { return strings.Contains(os.Getenv("AWAKE_CFLAGS"), "-fsanitize") }

// quietLogger logs warnings and errors only (the echo plugin logs each
// listening socket at INFO).
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// rssBytes reads this process's resident set size from /proc/self/statm,
// after a GC that returns freed memory to the OS.
func rssBytes(t *testing.T) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/statm")
	require.NoError(t, err)
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	require.NoError(t, err)
	return pages * int64(os.Getpagesize())
}

// soakRound is one round of the soak's mixed load on the long-lived runtime
// (stress plugin, echo plugin, Go futures), plus a short-lived runtime that
// is created, used and closed.
func soakRound(t *testing.T, k *stressKit, echo *awake.Plugin, rng *rand.Rand) {
	t.Helper()
	const hits, timerTasks = 200, 4
	require.Zero(t, k.call(t, "setup", hits+timerTasks))
	hs := k.spawnSlots(t, "hit", 0, hits, strconv.Itoa)
	tms := k.spawnSlots(t, "timers", hits, hits+timerTasks, func(i int) string {
		return fmt.Sprintf("%d 250 %d 100 3000", i, rng.Uint32())
	})
	// Go futures: sleeps, a fifth cancelled before they fire.
	var sleeps []*awake.Task
	for range 100 {
		task, err := k.rt.Spawn(awake.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond))
		require.NoError(t, err)
		sleeps = append(sleeps, task)
	}
	for _, task := range sleeps[:20] {
		task.Cancel()
	}
	waitFor(t, "the round's tasks to park", func() bool { return k.counter(t, "registered") == hits+timerTasks })
	require.Zero(t, k.call(t, "start", 4, 2000, uintptr(rng.Uint32())))

	// While the threads wake and the timers run: echo connections.
	echoRound(t, k.ctx, echo, 16, 8, 700)

	r := awaitHits(t, k.ctx, hs, 0)
	for _, task := range tms {
		v, err := task.Await(k.ctx)
		require.NoError(t, err)
		out := string(v.([]byte))
		require.Zero(t, field(t, out, "early"), out)
		require.EqualValues(t, 250, field(t, out, "fired")+field(t, out, "cancelled"), out)
		r.sent += field(t, out, "sent")
	}
	require.EqualValues(t, 4*2000, r.sent, "wakes sent by the threads and seen by the tasks")
	for i, task := range sleeps {
		_, err := task.Await(k.ctx)
		if i >= 20 {
			require.NoError(t, err)
		} else if err != nil {
			require.ErrorIs(t, err, awake.ErrCancelled)
		}
	}
	require.Zero(t, k.call(t, "join"))
	require.Zero(t, k.counter(t, "live_wakers"))
	require.Zero(t, k.counter(t, "live_futures"))
	require.Zero(t, k.counter(t, "timers_open"))
}

// TestStressSoak runs mixed load for a while (3 s; 60 s with
// AWAKE_STRESS=full; AWAKE_SOAK=10m for any other duration) and checks that
// nothing accumulates: after warm-up rounds, the resident set size stays
// within a tolerance (16 MiB + 10%; not checked under the race detector or
// the sanitizers, whose bookkeeping only grows) and the set of open fds is
// identical; after Close, the fds are those from before the runtime existed
// (a waker cell still referenced would keep an eventfd open).
func TestStressSoak(t *testing.T) {
	skipShort(t)
	dur := 3 * time.Second
	if fullStress() {
		dur = 60 * time.Second
	}
	if s := os.Getenv("AWAKE_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(t, err, "AWAKE_SOAK must be a Go duration such as 10m")
		dur = d
	}
	raiseFdLimit(t, 1024)
	warm, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	warm.Close()
	echoSo := stressBuild(t, "examples/c/echo.c", "-pthread")
	so := stressBuild(t, "testdata/stress/stress.c", "-pthread", "-O2")
	fds0 := openFds(t)

	rt, err := awake.New(awake.WithLogger(quietLogger()))
	require.NoError(t, err)
	p, err := rt.Load(so)
	require.NoError(t, err)
	echo, err := rt.Load(echoSo)
	require.NoError(t, err)
	k := &stressKit{rt: rt, p: p, fns: map[string]uintptr{}, ctx: stressCtx(t)}
	rng := rand.New(rand.NewPCG(7, 8))

	for range 2 { // warm-up: allocators, slabs and caches reach their size
		soakRound(t, k, echo, rng)
	}
	rss1, fds1 := rssBytes(t), openFds(t)
	start := time.Now()
	rounds := 0
	for time.Since(start) < dur {
		soakRound(t, k, echo, rng)
		rounds++
	}
	elapsed := time.Since(start)
	rss2, fds2 := rssBytes(t), openFds(t)
	s := rt.Stats()
	require.Equal(t, fds1, fds2, "open fds after the warm-up and after %d rounds", rounds)
	growth := rss2 - rss1
	// The race detector's shadow memory only grows, and ASan keeps freed C
	// memory in quarantine: RSS says nothing about leaks under either.
	if !raceOn && !sanitized() {
		tolerance := int64(16<<20) + rss1/10
		require.Less(t, growth, tolerance, "RSS grew from %d to %d KiB over %d rounds", rss1>>10, rss2>>10, rounds)
	}
	require.Zero(t, s.Pending, "tasks left")
	require.Zero(t, s.Failed+s.LostWakers+s.WakerMisuse)
	require.NoError(t, rt.Close())
	require.Equal(t, fds0, openFds(t), "fds before the runtime existed and after its Close")
	t.Logf("soak: %d rounds in %v, %d tasks, %d polls; RSS %d KiB after warm-up, %d KiB at the end (%+d KiB); %d fds before and after",
		rounds, elapsed.Round(time.Millisecond), s.Spawned, s.Polled, rss1>>10, rss2>>10, growth>>10, len(fds2))
}

// TestStressCloseWhileForeignThreadsWake closes the runtime while 8 plugin
// threads are in the middle of waking its tasks: Close drops every task once
// (Await returns ErrClosed), the threads' later wakes, clones and drops on
// the closed runtime's wakers are harmless, and no waker reference is lost
// or double-released (the plugin releases the wakers it still holds after
// its threads end; the executor reports no misuse).
func TestStressCloseWhileForeignThreadsWake(t *testing.T) {
	skipShort(t)
	tasks := stressSize(1000, 1000, 10_000)
	wakes := stressSize(200_000, 200_000, 2_000_000)
	k := newStressKit(t)
	require.Zero(t, k.call(t, "setup", uintptr(tasks)))
	hs := k.spawnSlots(t, "hit", 0, tasks, strconv.Itoa)
	waitFor(t, "every task to park its waker", func() bool { return k.counter(t, "registered") == int64(tasks) })
	require.Zero(t, k.call(t, "start", 8, uintptr(wakes), 3))
	waitFor(t, "the first polls caused by the threads", func() bool { return k.rt.Stats().Polled > uint64(tasks) })
	require.NoError(t, k.rt.Close())
	require.NoError(t, k.rt.Close(), "a second Close is harmless")
	closedAt := k.counter(t, "thread_wakes")
	for _, h := range hs {
		_, err := h.Result()
		require.ErrorIs(t, err, awake.ErrClosed)
	}
	require.Zero(t, k.call(t, "join"))
	require.EqualValues(t, 8*wakes, k.counter(t, "thread_wakes"))
	require.Zero(t, k.counter(t, "live_futures"), "Close dropped every future")
	held := k.counter(t, "unpark_all")
	require.Zero(t, k.counter(t, "live_wakers"))
	s := k.rt.Stats()
	require.EqualValues(t, tasks, s.Cancelled, "every task ended by Close")
	require.Zero(t, s.Completed+s.Failed+s.Pending)
	require.Zero(t, s.LostWakers+s.WakerMisuse)
	t.Logf("closed when %d of 8 threads had finished their %d wakes (the others' wakes landed on the closed runtime); %d parked wakers released by the plugin afterwards", closedAt/int64(wakes), wakes, held)
}

// TestStressRuntimeCycles creates, uses and closes runtimes in a loop, each
// closed with plugin tasks still pending: every Close gives back its fds
// (epoll, eventfds). The RSS left behind per cycle is reported.
func TestStressRuntimeCycles(t *testing.T) {
	skipShort(t)
	cycles := stressSize(20, 10, 500)
	timerSo := stressBuild(t, "examples/c/timer.c", "-pthread")
	cycle := func() {
		rt, err := awake.New(awake.WithWorkers(2), awake.WithLogger(quietLogger()))
		require.NoError(t, err)
		p, err := rt.Load(timerSo)
		require.NoError(t, err)
		for range 4 {
			_, err := p.Call(context.Background(), "sleep", []byte("100us"))
			require.NoError(t, err)
		}
		pending := make([]*awake.Task, 8)
		for i := range pending {
			pending[i], err = p.Spawn("sleep", []byte("3600s"))
			require.NoError(t, err)
		}
		waitFor(t, "the pending sleeps to be polled", func() bool { return rt.Stats().Polled >= 12 })
		require.NoError(t, rt.Close())
		require.NoError(t, rt.Close())
		for _, task := range pending {
			_, err := task.Result()
			require.ErrorIs(t, err, awake.ErrClosed)
		}
		require.Zero(t, p.Library().Live())
	}
	cycle() // libraries, caches and thread stacks reach their size
	fds, rss := openFds(t), rssBytes(t)
	for range cycles {
		cycle()
		require.Equal(t, fds, openFds(t), "fds after a runtime's Close")
	}
	grown := rssBytes(t) - rss
	t.Logf("%d runtime New/Load/Close cycles: fds unchanged; RSS %+d KiB (%d bytes per cycle)", cycles, grown>>10, grown/int64(cycles))
}
