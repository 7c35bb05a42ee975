package cbindings

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/awake-rt/awake/executor"
)

func newExecutor(t *testing.T, workers int) *executor.Executor {
	t.Helper()
	e, err := executor.New(executor.Config{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func awaitTask(t *testing.T, h *executor.JoinHandle) (any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return h.Await(ctx)
}

func int64Output(t *testing.T, v any) int64 {
	t.Helper()
	b, ok := v.([]byte)
	if !ok || len(b) != 8 {
		t.Fatalf("output %#v is not 8 bytes", v)
	}
	return int64(binary.NativeEndian.Uint64(b))
}

// Many spawns are made in lists of several per crossing: each task must get
// the future made from its own arguments, and arguments are copied at
// Spawn (the caller's buffer is reused at once).
func TestSpawnMakesEachTaskFromItsOwnArguments(t *testing.T) {
	lib := openGood(t)
	live := hook(t, lib, "good_live")
	for _, workers := range []int{1, 2} {
		e := newExecutor(t, workers)
		const n = 3000
		hs := make([]*executor.JoinHandle, n)
		buf := make([]byte, 8)
		for i := range hs {
			binary.NativeEndian.PutUint64(buf, uint64(i*7+1))
			h, err := lib.Spawn(e, "answer", buf)
			if err != nil {
				t.Fatal(err)
			}
			hs[i] = h
			clear(buf) // the task must have its own copy
		}
		for i, h := range hs {
			v, err := awaitTask(t, h)
			if err != nil {
				t.Fatalf("task %d: %v", i, err)
			}
			if got := int64Output(t, v); got != int64(i*7+1) {
				t.Fatalf("task %d returned %d, want %d (another task's arguments?)", i, got, i*7+1)
			}
		}
		if n := callInt(live); n != 0 {
			t.Fatalf("%d futures still live in the plugin after every task finished", n)
		}
		if lib.Live() != 0 {
			t.Fatalf("Live() = %d after every task finished", lib.Live())
		}
	}
}

// Arguments larger than a make list's arena are passed pinned; arguments
// that fill the arena make the list run early. Both must arrive intact.
func TestSpawnPassesLargeArgumentsIntact(t *testing.T) {
	lib := openGood(t)
	e := newExecutor(t, 1)
	var hs []*executor.JoinHandle
	var want []int64
	for _, size := range []int{1, 5000, 9000, 17000, 40000, 3, 16384, 16385} {
		args := make([]byte, size)
		var sum int64
		for i := range args {
			args[i] = byte(i*31 + size)
			sum += int64(args[i])
		}
		h, err := lib.Spawn(e, "sum", args)
		if err != nil {
			t.Fatal(err)
		}
		hs, want = append(hs, h), append(want, sum)
	}
	for i, h := range hs {
		v, err := awaitTask(t, h)
		if err != nil {
			t.Fatal(err)
		}
		if got := int64Output(t, v); got != want[i] {
			t.Fatalf("spawn %d: the plugin summed %d, want %d", i, got, want[i])
		}
	}
}

// A make that fails on the worker ends its task: Await returns the same
// *LoadError MakeFuture would, and the plugin's error object is released
// exactly once. Bad futures are refused the same way.
func TestSpawnReportsMakeErrorsAtAwait(t *testing.T) {
	lib := openGood(t)
	drops := hook(t, lib, "good_error_drops")
	e := newExecutor(t, 1)
	h, err := lib.Spawn(e, "fail", []byte{1, 2, 3})
	if err != nil {
		t.Fatalf("Spawn returned %v; a make error belongs to the task", err)
	}
	_, err = awaitTask(t, h)
	le := wantLoadError(t, err, ErrMake, "awake: make future "+lib.Path(), `export "fail"`,
		`plugin "good" returned AWAKE_E_INVALID (-1)`, "error code 1001", "fail always fails (got 3 argument bytes)")
	if le.Export != "fail" {
		t.Fatalf("LoadError export %q, want fail", le.Export)
	}
	if n := callInt(drops); n != 1 {
		t.Fatalf("the plugin's awake_error was dropped %d times, want exactly 1", n)
	}
	if lib.Live() != 0 {
		t.Fatalf("a failed make left Live() = %d", lib.Live())
	}
	if _, err := lib.Spawn(e, "missing", nil); !errors.Is(err, ErrNoExport) {
		t.Fatalf("Spawn of a missing export: %v, want ErrNoExport at once", err)
	}

	bad, err := Open(buildPlugin(t, "badfutures"))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	for _, c := range []struct {
		export string
		kind   Kind
		part   string
	}{
		{"null_vtable", ErrBadFuture, "vtable is NULL"},
		{"null_poll", ErrBadFuture, "NULL poll"},
		{"positive_rc", ErrMake, "returned 5, which is neither AWAKE_OK nor a negative"},
	} {
		h, err := bad.Spawn(e, c.export, nil)
		if err != nil {
			t.Fatalf("%s: Spawn returned %v", c.export, err)
		}
		_, err = awaitTask(t, h)
		wantLoadError(t, err, c.kind, bad.Path(), `export "`+c.export+`"`, c.part)
	}
	// Good and failing makes in one list: each task gets its own outcome.
	var hs []*executor.JoinHandle
	for i := range 100 {
		name := "answer"
		if i%3 == 0 {
			name = "fail"
		}
		h, err := lib.Spawn(e, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	for i, h := range hs {
		v, err := awaitTask(t, h)
		if i%3 == 0 {
			if !errors.Is(err, ErrMake) || !strings.Contains(err.Error(), "got 0 argument bytes") {
				t.Fatalf("task %d: %v, want the fail export's ErrMake", i, err)
			}
			continue
		}
		if err != nil || int64Output(t, v) != 42 {
			t.Fatalf("task %d: %v %v, want 42", i, v, err)
		}
	}
	if n := callInt(drops); n != 1+34 {
		t.Fatalf("error objects dropped %d times, want %d", n, 1+34)
	}
}

// Spawn refuses at once when the library or the executor is closed.
func TestSpawnAfterCloseIsRefused(t *testing.T) {
	lib := openGood(t)
	e := newExecutor(t, 1)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Spawn(e, "answer", nil); !errors.Is(err, executor.ErrClosed) {
		t.Fatalf("Spawn on a closed executor: %v, want ErrClosed", err)
	}
	if lib.Live() != 0 {
		t.Fatalf("a refused spawn is counted as live: %d", lib.Live())
	}
	e2 := newExecutor(t, 1)
	_ = lib.Close()
	if _, err := lib.Spawn(e2, "answer", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Spawn from a closed library: %v, want ErrClosed", err)
	}
}

// SpawnBatch: one task per element, in order, each made from its own
// element, spread over the workers; Close racing a stream of batches never
// loses a task: each handle ends with its output or ErrClosed, refused
// chunks have nil handles, and every future made is dropped.
func TestSpawnBatchRunsOneTaskPerElement(t *testing.T) {
	lib := openGood(t)
	live := hook(t, lib, "good_live")
	e := newExecutor(t, 2)
	const n = 1000
	args := make([][]byte, n)
	for i := range args {
		if i%10 != 0 { // every tenth without arguments: 42
			args[i] = binary.NativeEndian.AppendUint64(nil, uint64(i))
		}
	}
	hs, err := lib.SpawnBatch(e, "answer", args)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != n {
		t.Fatalf("%d handles for %d elements", len(hs), n)
	}
	clear(args[1]) // the batch has its own copies
	for i, h := range hs {
		v, err := awaitTask(t, h)
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		want := int64(i)
		if i%10 == 0 {
			want = 42
		}
		if got := int64Output(t, v); got != want {
			t.Fatalf("task %d returned %d, want %d", i, got, want)
		}
	}
	if hs, err := lib.SpawnBatch(e, "nope", args); !errors.Is(err, ErrNoExport) || hs != nil {
		t.Fatalf("SpawnBatch of a missing export: %v %v, want ErrNoExport and no handles", hs, err)
	}
	if hs, err := lib.SpawnBatch(e, "answer", nil); err != nil || len(hs) != 0 {
		t.Fatalf("an empty batch: %v %v", hs, err)
	}

	for round := range 10 {
		e := newExecutor(t, 2)
		var all []*executor.JoinHandle
		closed := make(chan struct{})
		go func() {
			time.Sleep(time.Duration(round) * 100 * time.Microsecond)
			_ = e.Close()
			close(closed)
		}()
		for {
			hs, err := lib.SpawnBatch(e, "answer", make([][]byte, 300))
			all = append(all, hs...)
			if err != nil {
				if !errors.Is(err, executor.ErrClosed) {
					t.Fatalf("round %d: %v", round, err)
				}
				break
			}
		}
		<-closed
		for i, h := range all {
			if h == nil {
				continue // refused
			}
			v, err := awaitTask(t, h)
			if err != nil && !errors.Is(err, executor.ErrClosed) {
				t.Fatalf("round %d task %d: %v", round, i, err)
			}
			if err == nil && int64Output(t, v) != 42 {
				t.Fatalf("round %d task %d returned %v", round, i, v)
			}
		}
	}
	if n := callInt(live); n != 0 {
		t.Fatalf("%d futures still live in the plugin", n)
	}
	if lib.Live() != 0 {
		t.Fatalf("Live() = %d at the end", lib.Live())
	}
}
