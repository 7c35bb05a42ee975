package cbindings

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/awake-rt/awake/abi"
)

func TestMakeFutureReady(t *testing.T) {
	lib := openGood(t)
	live := hook(t, lib, "good_live")
	waker := noopWaker(t, lib)

	args := binary.NativeEndian.AppendUint64(nil, uint64(0x1122334455667788))
	f, err := lib.MakeFuture("answer", args)
	if err != nil {
		t.Fatalf("MakeFuture(answer): %v", err)
	}
	if f.Vtable.OutputSize != 8 || f.Vtable.Flags&abi.FutureSend == 0 {
		t.Fatalf("answer vtable = %+v, want an 8-byte SEND output", *f.Vtable)
	}
	if lib.Live() != 1 || callInt(live) != 1 {
		t.Fatalf("after one make: Live() = %d, plugin live = %d; want 1 and 1", lib.Live(), callInt(live))
	}
	var out int64
	if rc, _ := poll(f, waker, unsafe.Pointer(&out)); rc != abi.Ready || out != 0x1122334455667788 {
		t.Fatalf("poll = %d with output %#x, want READY (1) with 0x1122334455667788", rc, out)
	}
	if rc, _ := poll(f, waker, unsafe.Pointer(&out)); rc != abi.Misuse {
		t.Fatalf("second poll = %d, want MISUSE (4)", rc)
	}
	if err := lib.DropFuture(f); err != nil {
		t.Fatalf("DropFuture: %v", err)
	}
	if lib.Live() != 0 || callInt(live) != 0 {
		t.Fatalf("after drop: Live() = %d, plugin live = %d; want 0 and 0", lib.Live(), callInt(live))
	}
	err = lib.DropFuture(f)
	wantLoadError(t, err, ErrNotLive, "awake: drop future "+lib.Path(), "already dropped")
	if callInt(live) != 0 {
		t.Fatal("a second DropFuture called the plugin's drop again")
	}

	// Without arguments the plugin answers 42 (args NULL, len 0).
	f, err = lib.MakeFuture("answer", nil)
	if err != nil {
		t.Fatalf("MakeFuture(answer, nil): %v", err)
	}
	if rc, _ := poll(f, abi.Waker{}, unsafe.Pointer(&out)); rc != abi.Ready || out != 42 {
		t.Fatalf("poll = %d with output %d, want READY with 42", rc, out)
	}
	if err := lib.DropFuture(f); err != nil {
		t.Fatal(err)
	}
}

func TestMakeFutureError(t *testing.T) {
	lib := openGood(t)
	drops := hook(t, lib, "good_error_drops")
	_, err := lib.MakeFuture("fail", []byte{1, 2, 3})
	le := wantLoadError(t, err, ErrMake, "awake: make future "+lib.Path(), `export "fail"`,
		`plugin "good" returned AWAKE_E_INVALID (-1)`, "error code 1001", "fail always fails (got 3 argument bytes)")
	if le.Code != abi.EInvalid || le.Export != "fail" {
		t.Fatalf("LoadError code %d export %q, want -1 and fail", le.Code, le.Export)
	}
	if n := callInt(drops); n != 1 {
		t.Fatalf("the plugin's awake_error was dropped %d times, want exactly 1", n)
	}
	// The answer export refuses an argument of the wrong size, without an
	// error object.
	_, err = lib.MakeFuture("answer", []byte{1})
	wantLoadError(t, err, ErrMake, "AWAKE_E_INVALID (-1) with no error object")
	if lib.Live() != 0 {
		t.Fatalf("failed makes left Live() = %d", lib.Live())
	}
	_, err = lib.MakeFuture("missing", nil)
	wantLoadError(t, err, ErrNoExport, `export "missing"`, `exports "answer", "fail", "probe_host", "sum"`)
}

func TestMakeFutureBadFutures(t *testing.T) {
	lib, err := Open(buildPlugin(t, "badfutures"))
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	drops := hook(t, lib, "badfutures_error_drops")
	vtSize := fmt.Sprint(unsafe.Sizeof(abi.FutureVtable{}))
	errSize := fmt.Sprint(unsafe.Sizeof(abi.ErrorObj{}))
	cases := []struct {
		export string
		kind   Kind
		part   string
		drops  int32 // error drops expected after this case
	}{
		{"null_vtable", ErrBadFuture, "vtable is NULL", 0},
		{"small_vtable", ErrBadFuture, "vtable size 8 < " + vtSize, 0},
		{"null_poll", ErrBadFuture, "NULL poll", 0},
		{"null_drop", ErrBadFuture, "NULL drop", 0},
		{"bad_align", ErrBadFuture, "output_align 3 is not a power of two", 0},
		{"no_error_object", ErrMake, "AWAKE_E_NOMEM (-2) with no error object", 0},
		{"positive_rc", ErrMake, "returned 5, which is neither AWAKE_OK nor a negative", 0},
		{"small_error", ErrMake, "error object size 4 < " + errSize + "; leaked", 0},
	}
	for _, c := range cases {
		_, err := lib.MakeFuture(c.export, nil)
		wantLoadError(t, err, c.kind, lib.Path(), `export "`+c.export+`"`, c.part)
		if n := callInt(drops); n != c.drops {
			t.Fatalf("%s: error drops = %d, want %d", c.export, n, c.drops)
		}
	}
	if lib.Live() != 0 {
		t.Fatalf("refused futures are counted as live: %d", lib.Live())
	}
	// AWAKE_OK with an error object: the future is fine, the error is
	// released anyway.
	f, err := lib.MakeFuture("ok_with_error", nil)
	if err != nil {
		t.Fatalf("MakeFuture(ok_with_error): %v", err)
	}
	if n := callInt(drops); n != 1 {
		t.Fatalf("error object of a successful make dropped %d times, want 1", n)
	}
	// Two live futures may be equal (NULL self, same vtable): both count.
	g, err := lib.MakeFuture("static", nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := lib.MakeFuture("static", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g != h || lib.Live() != 3 {
		t.Fatalf("equal futures: g == h is %v, Live() = %d; want true and 3", g == h, lib.Live())
	}
	for _, x := range []abi.Future{f, g, h} {
		if err := lib.DropFuture(x); err != nil {
			t.Fatal(err)
		}
	}
	wantLoadError(t, lib.DropFuture(g), ErrNotLive)
}

func TestLifetime(t *testing.T) {
	t.Run("unloaded when nothing was made", func(t *testing.T) {
		lib := openGood(t)
		if !mapped(t, lib.Path()) {
			t.Fatal("not mapped after Open")
		}
		if err := lib.Close(); err != nil {
			t.Fatal(err)
		}
		if mapped(t, lib.Path()) {
			t.Fatal("still mapped after Close of a library that made no future")
		}
		if err := lib.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		_, err := lib.MakeFuture("answer", nil)
		wantLoadError(t, err, ErrClosed, lib.Path(), `export "answer"`, "open the library again")
	})
	t.Run("kept while futures live and after", func(t *testing.T) {
		lib := openGood(t)
		f, err := lib.MakeFuture("answer", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := lib.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = lib.MakeFuture("answer", nil)
		wantLoadError(t, err, ErrClosed)
		// The live future's code is still there: poll and drop it.
		var out int64
		if rc, _ := poll(f, abi.Waker{}, unsafe.Pointer(&out)); rc != abi.Ready || out != 42 {
			t.Fatalf("poll after Close = %d (%d), want READY 42", rc, out)
		}
		if err := lib.DropFuture(f); err != nil {
			t.Fatalf("DropFuture after Close: %v", err)
		}
		if callInt(hook(t, lib, "good_live")) != 0 {
			t.Fatal("drop after Close did not reach the plugin")
		}
		if !mapped(t, lib.Path()) {
			t.Fatal("a library that made a future was unloaded; its wakers may still be held")
		}
	})
	t.Run("same file opened twice", func(t *testing.T) {
		p := buildPlugin(t, "good")
		a, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if a.handle != b.handle {
			t.Fatalf("dlopen gave two handles (%#x, %#x) for one file", a.handle, b.handle)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if !mapped(t, p) {
			t.Fatal("closing one of two Libraries of the same file unloaded it")
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if mapped(t, p) {
			t.Fatal("still mapped after both Libraries of the file were closed")
		}
	})
	t.Run("KeepLoaded", func(t *testing.T) {
		lib, err := Open(buildPlugin(t, "good"), KeepLoaded())
		if err != nil {
			t.Fatal(err)
		}
		if err := lib.Close(); err != nil {
			t.Fatal(err)
		}
		if !mapped(t, lib.Path()) {
			t.Fatal("KeepLoaded library was unloaded by Close")
		}
	})
}

func TestMakeFutureConcurrent(t *testing.T) {
	lib := openGood(t)
	const workers, each = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				f, err := lib.MakeFuture("answer", nil)
				if err != nil {
					errs <- err
					return
				}
				if err := lib.DropFuture(f); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if lib.Live() != 0 || callInt(hook(t, lib, "good_live")) != 0 {
		t.Fatalf("after %d make/drop pairs: Live() = %d, plugin live = %d", workers*each, lib.Live(), callInt(hook(t, lib, "good_live")))
	}
}

// probeResult mirrors good.c's probe_result.
type probeResult struct {
	NowNs          uint64
	SameHost       int32
	HostSize       uint32
	HostMajor      int32
	HostMinor      int32
	TimerRC        int32
	TimerOutNull   int32
	ResetRC        int32
	IORC           int32
	IOOutNull      int32
	SpawnRC        int32
	JoinCleared    int32
	LiveAfterSpawn int32
}

func probe(t *testing.T, lib *Library) probeResult {
	t.Helper()
	f, err := lib.MakeFuture("probe_host", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := lib.DropFuture(f); err != nil {
			t.Error(err)
		}
	}()
	if f.Vtable.OutputSize != uint32(unsafe.Sizeof(probeResult{})) {
		t.Fatalf("probe_result is %d bytes in C, %d in Go", f.Vtable.OutputSize, unsafe.Sizeof(probeResult{}))
	}
	var r probeResult
	if rc, _ := poll(f, noopWaker(t, lib), unsafe.Pointer(&r)); rc != abi.Ready {
		t.Fatalf("probe poll = %d, want READY", rc)
	}
	return r
}

func TestHostTableWithoutRuntime(t *testing.T) {
	lib := openGood(t)
	setHostImpl(nil)
	t.Cleanup(func() { setHostImpl(runtimeHost{}) })
	r := probe(t, lib)
	want := probeResult{
		NowNs: r.NowNs, SameHost: 1, HostSize: uint32(unsafe.Sizeof(abi.Host{})),
		HostMajor: abi.Major, HostMinor: abi.Minor,
		TimerRC: abi.EClosed, TimerOutNull: 1, ResetRC: abi.EClosed,
		IORC: abi.EClosed, IOOutNull: 1,
		SpawnRC: abi.EClosed, JoinCleared: 1,
		LiveAfterSpawn: 1, // the probe itself; the spawned child was dropped
	}
	if r != want || r.NowNs == 0 {
		t.Fatalf("probe without a runtime:\n got %+v\nwant %+v (now_ns > 0)", r, want)
	}
	if first, again := hostTable(), hostTable(); first != again {
		t.Fatal("hostTable() must return one table for the life of the process")
	}
}

// fakeHost records calls; its IOOpen panics.
type fakeHost struct {
	mu       sync.Mutex
	spawned  []abi.Future
	logs     []string
	timerArg uint64
}

func (h *fakeHost) NowNs(uintptr) uint64 { return 12345 }
func (h *fakeHost) TimerOpen(cx uintptr, deadline uint64, out uintptr) int32 {
	h.mu.Lock()
	h.timerArg = deadline
	h.mu.Unlock()
	return abi.ENoMem
}
func (h *fakeHost) TimerReset(uintptr, uintptr, uint64) int32 { return abi.EInvalid }
func (h *fakeHost) TimerClose(uintptr)                        {}
func (h *fakeHost) IOOpen(uintptr, int32, uint32, uintptr) int32 {
	panic("io_open exploded")
}
func (h *fakeHost) IOClose(uintptr) {}
func (h *fakeHost) Spawn(cx uintptr, fut abi.Future, join uintptr) int32 {
	h.mu.Lock()
	h.spawned = append(h.spawned, fut)
	h.mu.Unlock()
	return abi.OK
}
func (h *fakeHost) Call(uintptr, string, []byte, uintptr, uintptr) int32 { return abi.EInvalid }

func (h *fakeHost) Log(cx uintptr, level int32, msg, n uintptr) {
	h.mu.Lock()
	h.logs = append(h.logs, fmt.Sprintf("%d %s", level, unsafe.String((*byte)(cptr(msg)), int(n))))
	h.mu.Unlock()
}

func TestHostTableDispatchesAndRecovers(t *testing.T) {
	lib := openGood(t)
	fh := &fakeHost{}
	var panics []string
	oldPanicked := hostPanicked
	hostPanicked = func(fn string, v any) { panics = append(panics, fmt.Sprintf("%s: %v", fn, v)) }
	setHostImpl(fh)
	t.Cleanup(func() { setHostImpl(runtimeHost{}); hostPanicked = oldPanicked })

	r := probe(t, lib)
	if r.NowNs != 12345 || r.TimerRC != abi.ENoMem || fh.timerArg != 12345 || r.ResetRC != abi.EInvalid {
		t.Fatalf("calls did not reach the registered implementation: %+v (timer deadline %d)", r, fh.timerArg)
	}
	if r.IORC != abi.ESystem || len(panics) != 1 || !strings.Contains(panics[0], "io_open: io_open exploded") {
		t.Fatalf("a panicking io_open must return AWAKE_E_SYSTEM and be reported: rc %d, reports %q", r.IORC, panics)
	}
	if r.SpawnRC != abi.OK || len(fh.spawned) != 1 || r.LiveAfterSpawn != 2 {
		t.Fatalf("spawn: rc %d, spawned %d, plugin live %d; want OK, 1, 2", r.SpawnRC, len(fh.spawned), r.LiveAfterSpawn)
	}
	if len(fh.logs) != 1 || fh.logs[0] != "0 probe_host polled" {
		t.Fatalf("logs = %q", fh.logs)
	}
	// The spawned child is a real future: poll it and drop it.
	child := fh.spawned[0]
	var out int64
	if rc, _ := poll(child, abi.Waker{}, unsafe.Pointer(&out)); rc != abi.Ready || out != 7 {
		t.Fatalf("spawned child poll = %d (%d), want READY 7", rc, out)
	}
	purego.SyscallN(child.Vtable.Drop, child.Self)
	if n := callInt(hook(t, lib, "good_live")); n != 0 {
		t.Fatalf("plugin live futures = %d after dropping everything", n)
	}
}

// Outside an executor poll, the runtime host refuses calls that need a task
// (AWAKE_E_INVALID) and reports the misuse, naming the function.
func TestRuntimeHostOutsideAPoll(t *testing.T) {
	lib := openGood(t)
	var reports []string
	old := hostMisuse
	hostMisuse = func(fn string, err error) { reports = append(reports, fn+": "+err.Error()) }
	t.Cleanup(func() { hostMisuse = old })
	r := probe(t, lib)
	if r.TimerRC != abi.EInvalid || r.IORC != abi.EInvalid || r.SpawnRC != abi.EInvalid || r.TimerOutNull != 1 {
		t.Fatalf("probe outside a poll: %+v", r)
	}
	if len(reports) == 0 || !strings.Contains(reports[0], "timer_open: awake: host function called with context") {
		t.Fatalf("misuse reports = %q", reports)
	}
}
