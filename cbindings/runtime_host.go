package cbindings

import (
	"fmt"
	"log/slog"
	"unsafe"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/executor"
)

func init() {
	executor.SetHost(hostTable())
	setHostImpl(runtimeHost{})
}

// runtimeHost serves the host table from the executor: every call resolves
// the context to the worker and task whose poll is running, and acts on that
// worker's reactor.
type runtimeHost struct{}

func (runtimeHost) NowNs(cx uintptr) uint64 { return monotonicNs() }

// poller resolves cx, reporting a misuse to the log once per call site kind.
func poller(cx uintptr, fn string) (executor.Poller, bool) {
	p, err := executor.PollerFor(cx)
	if err != nil {
		hostMisuse(fn, err)
		return p, false
	}
	return p, true
}

// hostMisuse reports a plugin calling a host function wrongly; tests replace it.
var hostMisuse = func(fn string, err error) {
	slog.Default().Error("awake: a plugin called a host function wrongly", "function", fn, "err", err)
}

func (runtimeHost) TimerOpen(cx uintptr, deadlineNs uint64, out uintptr) int32 {
	if out == 0 || !aligned(out, unsafe.Alignof(uintptr(0))) {
		return abi.EInvalid
	}
	clearOut(out)
	p, ok := poller(cx, "timer_open")
	if !ok {
		return abi.EInvalid
	}
	t, err := p.OpenTimer(deadlineNs)
	if err != nil {
		p.Log(abi.LogError, fmt.Sprintf("awake: timer_open failed: %v", err))
		return abi.ENoMem
	}
	*(*uintptr)(cptr(out)) = uintptr(unsafe.Pointer(t))
	return abi.OK
}

func (runtimeHost) TimerReset(cx, timer uintptr, deadlineNs uint64) int32 {
	if timer == 0 {
		return abi.EInvalid
	}
	p, ok := poller(cx, "timer_reset")
	if !ok {
		return abi.EInvalid
	}
	if err := p.ResetTimer((*abi.Timer)(cptr(timer)), deadlineNs); err != nil {
		p.Log(abi.LogError, fmt.Sprintf("awake: timer_reset failed: %v", err))
		return abi.EInvalid
	}
	return abi.OK
}

func (runtimeHost) TimerClose(timer uintptr) {
	if timer != 0 {
		executor.CloseTimer((*abi.Timer)(cptr(timer)))
	}
}

func (runtimeHost) IOOpen(cx uintptr, fd int32, interest uint32, out uintptr) int32 {
	if out == 0 || !aligned(out, unsafe.Alignof(uintptr(0))) || fd < 0 || interest == 0 || interest&^(abi.IORead|abi.IOWrite) != 0 {
		clearOut(out)
		return abi.EInvalid
	}
	clearOut(out)
	p, ok := poller(cx, "io_open")
	if !ok {
		return abi.EInvalid
	}
	io, err := p.OpenIO(fd, interest)
	if err != nil {
		p.Log(abi.LogError, fmt.Sprintf("awake: io_open(fd %d) failed: %v", fd, err))
		return abi.ESystem
	}
	*(*uintptr)(cptr(out)) = uintptr(unsafe.Pointer(io))
	return abi.OK
}

func (runtimeHost) IOClose(io uintptr) {
	if io != 0 {
		executor.CloseIO((*abi.IO)(cptr(io)))
	}
}

func (runtimeHost) Spawn(cx uintptr, fut abi.Future, join uintptr) int32 {
	if join != 0 {
		*(*abi.Future)(cptr(join)) = abi.Future{}
	}
	f := &executor.Foreign{F: fut}
	p, ok := poller(cx, "spawn")
	if !ok {
		f.Drop()
		return abi.EInvalid
	}
	f.Name = p.TaskName() + "/spawned"
	h, err := p.Spawn(f, f.Name)
	if err != nil {
		return abi.EClosed
	}
	if join != 0 {
		*(*abi.Future)(cptr(join)) = newJoinFuture(p, h, fut.Vtable)
	}
	return abi.OK
}

func (runtimeHost) Log(cx uintptr, level int32, msg, n uintptr) {
	p, ok := poller(cx, "log")
	if !ok {
		return
	}
	if n > 1<<20 {
		n = 1 << 20
	}
	var s string
	if msg != 0 && n > 0 {
		s = string(unsafe.Slice((*byte)(cptr(msg)), n))
	}
	p.Log(level, s)
}
