package cbindings

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/executor"
)

// hostImpl is what serves the host table's functions. The executor (a later
// issue) registers one with setHostImpl; until then every function answers
// as a host with no runtime would: AWAKE_E_CLOSED.
//
// Methods receive the raw C pointers the plugin passed (awake_context *,
// awake_timer **, ...) as uintptr; they run on the thread that called the
// plugin's poll (a Go-created thread), and may panic: the callbacks below
// recover, so no panic unwinds through C frames.
type hostImpl interface {
	NowNs(cx uintptr) uint64
	TimerOpen(cx uintptr, deadlineNs uint64, out uintptr) int32
	TimerReset(cx uintptr, timer uintptr, deadlineNs uint64) int32
	TimerClose(timer uintptr)
	IOOpen(cx uintptr, fd int32, interest uint32, out uintptr) int32
	IOClose(io uintptr)
	Spawn(cx uintptr, fut abi.Future, join uintptr) int32
	Log(cx uintptr, level int32, msg uintptr, n uintptr)
	Call(cx uintptr, name string, args []byte, out uintptr, errOut uintptr) int32
}

type implBox struct{ h hostImpl }

var (
	currentImpl atomic.Pointer[implBox]

	// hostPanicked reports a panic recovered in a host function; tests
	// replace it.
	// It runs inside the deferred recover, so the stack it logs is the
	// panicking one. The panic never unwinds into the plugin's C frames.
	hostPanicked = func(fn string, v any) {
		slog.Default().Error("awake: a Go panic in a host function called by a plugin; the plugin got an error status instead",
			"function", fn, "panic", v, "stack", string(debug.Stack()))
	}

	hostOnce sync.Once
	hostPtr  *abi.Host
)

// setHostImpl makes h serve every plugin's host table (nil: no runtime).
func setHostImpl(h hostImpl) {
	if h == nil {
		currentImpl.Store(nil)
		return
	}
	currentImpl.Store(&implBox{h})
}

func impl() hostImpl {
	if b := currentImpl.Load(); b != nil {
		return b.h
	}
	return nil
}

// hostTable returns the awake_host handed to every plugin. It is built once,
// in mmap'd memory that is never unmapped (plugins keep the pointer for the
// life of the process) and is read-only after construction, so a plugin
// cannot overwrite the host's function pointers. Its functions are purego
// callbacks created once (purego's callback table is small and never freed)
// that dispatch to the registered hostImpl.
func hostTable() *abi.Host {
	hostOnce.Do(func() {
		size := unsafe.Sizeof(abi.Host{})
		mem, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			panic(fmt.Sprintf("awake: cannot mmap %d bytes for the host table: %v", size, err))
		}
		h := (*abi.Host)(unsafe.Pointer(&mem[0]))
		*h = abi.Host{
			Size:       uint32(size),
			AbiMajor:   abi.Major,
			AbiMinor:   abi.Minor,
			NowNs:      purego.NewCallback(hostNowNs),
			TimerOpen:  purego.NewCallback(hostTimerOpen),
			TimerReset: purego.NewCallback(hostTimerReset),
			TimerClose: purego.NewCallback(hostTimerClose),
			IOOpen:     purego.NewCallback(hostIOOpen),
			IOClose:    purego.NewCallback(hostIOClose),
			Spawn:      purego.NewCallback(hostSpawn),
			Log:        purego.NewCallback(hostLog),
			Call:       purego.NewCallback(hostCall),
		}
		// timer_open and timer_close: the executor's runtime-free assembly
		// when it has it, with these callbacks as its slow path.
		if open, cls := executor.SetTimerSlowPaths(h.TimerOpen, h.TimerClose); open != 0 && cls != 0 {
			h.TimerOpen, h.TimerClose = open, cls
		}
		if err := unix.Mprotect(mem, unix.PROT_READ); err != nil {
			panic(fmt.Sprintf("awake: cannot make the host table read-only: %v", err))
		}
		hostPtr = h
	})
	return hostPtr
}

// recoverTo stores rc in *ret and reports the panic if fn panicked.
func recoverTo(fn string, ret *int32, rc int32) {
	if v := recover(); v != nil {
		hostPanicked(fn, v)
		if ret != nil {
			*ret = rc
		}
	}
}

// monotonicNs is CLOCK_MONOTONIC in nanoseconds, now_ns without a runtime.
func monotonicNs() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return uint64(ts.Nano())
}

func hostNowNs(cx uintptr) (ns uint64) {
	defer func() {
		if v := recover(); v != nil {
			hostPanicked("now_ns", v)
			ns = monotonicNs()
		}
	}()
	if h := impl(); h != nil {
		return h.NowNs(cx)
	}
	return monotonicNs()
}

// clearOut stores NULL in the out-pointer of a failed open.
func clearOut(out uintptr) {
	if out != 0 && aligned(out, unsafe.Alignof(uintptr(0))) {
		*(*uintptr)(cptr(out)) = 0
	}
}

func hostTimerOpen(cx uintptr, deadlineNs uint64, out uintptr) (rc int32) {
	defer recoverTo("timer_open", &rc, abi.ESystem)
	if h := impl(); h != nil {
		return h.TimerOpen(cx, deadlineNs, out)
	}
	clearOut(out)
	return abi.EClosed
}

func hostTimerReset(cx, timer uintptr, deadlineNs uint64) (rc int32) {
	defer recoverTo("timer_reset", &rc, abi.ESystem)
	if h := impl(); h != nil {
		return h.TimerReset(cx, timer, deadlineNs)
	}
	return abi.EClosed
}

func hostTimerClose(timer uintptr) {
	defer recoverTo("timer_close", nil, 0)
	if h := impl(); h != nil {
		h.TimerClose(timer)
	}
}

func hostIOOpen(cx uintptr, fd int32, interest uint32, out uintptr) (rc int32) {
	defer recoverTo("io_open", &rc, abi.ESystem)
	if h := impl(); h != nil {
		return h.IOOpen(cx, fd, interest, out)
	}
	clearOut(out)
	return abi.EClosed
}

func hostIOClose(io uintptr) {
	defer recoverTo("io_close", nil, 0)
	if h := impl(); h != nil {
		h.IOClose(io)
	}
}

// hostSpawn receives the awake_future argument, passed by value, as its two
// words: a 16-byte struct of two pointers travels in two consecutive integer
// registers under both System V amd64 and AAPCS64, exactly like two pointer
// arguments.
func hostSpawn(cx, self, vtable, join uintptr) (rc int32) {
	defer recoverTo("spawn", &rc, abi.ESystem)
	if checkFuture(vtable) != "" {
		// Not a future the host can poll or drop: leak it.
		return abi.EInvalid
	}
	fut := abi.Future{Self: self, Vtable: (*abi.FutureVtable)(cptr(vtable))}
	if h := impl(); h != nil {
		return h.Spawn(cx, fut, join)
	}
	// The host owns fut even on failure: release it.
	if join != 0 && aligned(join, unsafe.Alignof(abi.Future{})) {
		*(*[2]uintptr)(cptr(join)) = [2]uintptr{}
	}
	purego.SyscallN(fut.Vtable.Drop, self)
	return abi.EClosed
}

func hostLog(cx uintptr, level int32, msg, n uintptr) {
	defer recoverTo("log", nil, 0)
	if h := impl(); h != nil {
		h.Log(cx, level, msg, n)
	}
}

// hostCall copies the name and arguments out of C memory before anything
// else, so the implementation never reads plugin memory after the call.
func hostCall(cx, name, args, n, out, errOut uintptr) (rc int32) {
	defer recoverTo("call", &rc, abi.ESystem)
	if out != 0 && aligned(out, unsafe.Alignof(abi.Future{})) {
		*(*abi.Future)(cptr(out)) = abi.Future{}
	} else {
		return abi.EInvalid
	}
	if errOut != 0 && aligned(errOut, unsafe.Alignof(uintptr(0))) {
		*(*uintptr)(cptr(errOut)) = 0
	} else {
		errOut = 0
	}
	if name == 0 {
		return abi.EInvalid
	}
	fn, ok := cstring(name, 4096)
	if !ok {
		return abi.EInvalid
	}
	var a []byte
	if n > 0 && args != 0 {
		a = append([]byte(nil), unsafe.Slice((*byte)(cptr(args)), n)...)
	}
	if h := impl(); h != nil {
		return h.Call(cx, fn, a, out, errOut)
	}
	return abi.EClosed
}
