package cbindings

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/internal/ctest"
)

// buildPlugin compiles testdata/plugins/<name>.c with extra -D flags.
func buildPlugin(t testing.TB, name string, flags ...string) string {
	t.Helper()
	return ctest.Build(t, ctest.Shared, []string{"testdata/plugins/" + name + ".c"}, flags...)
}

// openGood builds and opens good.c, closing it at the end of the test.
func openGood(t testing.TB) *Library {
	t.Helper()
	lib, err := Open(buildPlugin(t, "good"))
	if err != nil {
		t.Fatalf("Open(good): %v", err)
	}
	t.Cleanup(func() { _ = lib.Close() })
	return lib
}

// hook looks up a plain C test hook in lib.
func hook(t testing.TB, lib *Library, name string) uintptr {
	t.Helper()
	lib.mu.Lock()
	h := lib.handle
	lib.mu.Unlock()
	if h == 0 {
		t.Fatalf("hook %s: library %s is unloaded", name, lib.Path())
	}
	fn, err := purego.Dlsym(h, name)
	if err != nil {
		t.Fatalf("dlsym %s in %s: %v", name, lib.Path(), err)
	}
	return fn
}

// callInt calls a C function int f(void).
func callInt(fn uintptr) int32 {
	r, _, _ := purego.SyscallN(fn)
	return int32(uint32(r))
}

// poll polls f once with a context carrying waker and the host table; out
// must have the size and alignment f's vtable declares.
func poll(f abi.Future, waker abi.Waker, out unsafe.Pointer) (int32, uintptr) {
	cx := &abi.Context{
		Size:  uint32(unsafe.Sizeof(abi.Context{})),
		Waker: waker,
		Host:  hostTable(),
	}
	var errp uintptr
	var pin runtime.Pinner
	pin.Pin(cx)
	if out != nil {
		pin.Pin(out)
	}
	defer pin.Unpin()
	r, _, _ := purego.SyscallN(f.Vtable.Poll, f.Self, uintptr(unsafe.Pointer(cx)), uintptr(out), uintptr(unsafe.Pointer(&errp)))
	return int32(uint32(r)), errp
}

// noopWaker returns the plugin's awake_waker_noop().
func noopWaker(t testing.TB, lib *Library) abi.Waker {
	var w abi.Waker
	var pin runtime.Pinner
	pin.Pin(&w)
	defer pin.Unpin()
	purego.SyscallN(hook(t, lib, "good_noop_waker"), uintptr(unsafe.Pointer(&w)))
	if w.Vtable == nil || w.Vtable.Size != uint32(unsafe.Sizeof(abi.WakerVtable{})) {
		t.Fatalf("good_noop_waker returned %+v, want a waker with a full vtable", w)
	}
	return w
}

// mapped reports whether path is mapped into this process (Linux only).
func mapped(t testing.TB, path string) bool {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("checking what is mapped needs /proc/self/maps (Linux)")
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatalf("reading /proc/self/maps: %v", err)
	}
	return strings.Contains(string(maps), path)
}

// wantLoadError checks that err is a *LoadError of kind and that its message
// contains every one of parts.
func wantLoadError(t testing.TB, err error, kind Kind, parts ...string) *LoadError {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("errors.Is(err, %v) is false; err = %v", kind, err)
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %T is not a *LoadError: %v", err, err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "awake: ") {
		t.Errorf("message does not start with \"awake: \": %s", msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("message lacks %q:\n%s", p, msg)
		}
	}
	return le
}
