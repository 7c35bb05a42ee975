package cbindings

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
	"github.com/awake-rt/awake/executor"
	"github.com/awake-rt/awake/vtable"
)

// Host futures: futures implemented in Go that C code polls through the C
// ABI (the join future of host->spawn, Go functions offered to plugins).
// self is a handle into a table, never a Go pointer. The vtables are C
// structs in mmap'd memory, one per output shape, whose functions are three
// purego callbacks created once. A host future is polled from a C poll
// running on a worker thread, so the callbacks run on a Go thread.

type hostFuture interface {
	// poll follows awake_future_vtable.poll; w is the borrowed waker of cx.
	poll(w abi.Waker, out uintptr, errOut uintptr) int32
	drop()
	cancel() int32
}

var (
	hfMu     sync.Mutex
	hfTable  = map[uintptr]hostFuture{}
	hfNext   uintptr
	hfVtabs  = map[[3]uint32]*abi.FutureVtable{}
	hfFns    [3]uintptr // poll, drop, cancel
	hfFnOnce sync.Once
)

func hostFutureVtable(size, align, flags uint32) *abi.FutureVtable {
	hfFnOnce.Do(func() {
		hfFns = [3]uintptr{purego.NewCallback(hfPoll), purego.NewCallback(hfDrop), purego.NewCallback(hfCancel)}
	})
	key := [3]uint32{size, align, flags}
	hfMu.Lock()
	defer hfMu.Unlock()
	if vt := hfVtabs[key]; vt != nil {
		return vt
	}
	mem, err := unix.Mmap(-1, 0, vtablePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		panic(fmt.Sprintf("awake: cannot map a host future vtable: %v", err))
	}
	vt := (*abi.FutureVtable)(unsafe.Pointer(&mem[0]))
	*vt = abi.FutureVtable{Size: uint32(unsafe.Sizeof(abi.FutureVtable{})), Flags: flags, OutputSize: size,
		OutputAlign: align, Poll: hfFns[0], Drop: hfFns[1], Cancel: hfFns[2]}
	hfVtabs[key] = vt
	return vt
}

const vtablePage = 4096

func registerHostFuture(f hostFuture, size, align, flags uint32) abi.Future {
	vt := hostFutureVtable(size, align, flags)
	hfMu.Lock()
	hfNext++
	h := hfNext
	hfTable[h] = f
	hfMu.Unlock()
	return abi.Future{Self: h, Vtable: vt}
}

func lookupHostFuture(self uintptr) hostFuture {
	hfMu.Lock()
	defer hfMu.Unlock()
	return hfTable[self]
}

func hfPoll(self, cx, out, errOut uintptr) (rc int32) {
	defer recoverTo("host future poll", &rc, abi.Error)
	f := lookupHostFuture(self)
	if f == nil || cx == 0 {
		return abi.Misuse
	}
	return f.poll((*abi.Context)(cptr(cx)).Waker, out, errOut)
}

func hfDrop(self uintptr) {
	defer recoverTo("host future drop", nil, 0)
	hfMu.Lock()
	f := hfTable[self]
	delete(hfTable, self)
	hfMu.Unlock()
	if f != nil {
		f.drop()
	}
}

func hfCancel(self uintptr) (rc int32) {
	defer recoverTo("host future cancel", &rc, abi.EInvalid)
	if f := lookupHostFuture(self); f != nil {
		return f.cancel()
	}
	return abi.EInvalid
}

// wakerSlot holds at most one owned waker, replaced only when it would wake
// a different task (awake_waker_will_wake).
type wakerSlot struct {
	mu sync.Mutex
	w  abi.Waker
}

func (s *wakerSlot) park(w abi.Waker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == w {
		return
	}
	old := s.w
	s.w = vtable.Clone(w)
	if old.Vtable != nil {
		vtable.Drop(old)
	}
}

// take empties the slot.
func (s *wakerSlot) take() abi.Waker {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.w
	s.w = abi.Waker{}
	return w
}

func (s *wakerSlot) wake() {
	if w := s.take(); w.Vtable != nil {
		vtable.Wake(w)
	}
}

func (s *wakerSlot) drop() {
	if w := s.take(); w.Vtable != nil {
		vtable.Drop(w)
	}
}

// writeResult delivers a finished value to C: into out for READY (an
// awake_bytes for bytes futures, raw bytes otherwise) or an owned error.
func writeResult(v any, err error, vt *abi.FutureVtable, out, errOut uintptr) int32 {
	if err != nil {
		if errors.Is(err, executor.ErrCancelled) || errors.Is(err, context.Canceled) {
			return abi.Cancelled
		}
		if errOut != 0 {
			*(*uintptr)(cptr(errOut)) = newErrorObject(abi.EInvalid, err.Error())
		}
		return abi.Error
	}
	b, _ := v.([]byte)
	if vt.Flags&abi.FutureOutputBytes != 0 {
		if out != 0 {
			*(*abi.Bytes)(cptr(out)) = newBytes(b)
		}
		return abi.Ready
	}
	if out != 0 && vt.OutputSize > 0 {
		copy(unsafe.Slice((*byte)(cptr(out)), vt.OutputSize), b)
	}
	return abi.Ready
}

// Owned C-visible allocations (awake_bytes data, awake_error objects) are
// pinned Go memory released by their drop callbacks.
var (
	ownedMu   sync.Mutex
	owned     = map[uintptr]*runtime.Pinner{}
	ownedKeep = map[uintptr]any{}
	bytesDrop = sync.OnceValue(func() uintptr {
		return purego.NewCallback(func(data, n uintptr) { release(data) })
	})
	errorDrop = sync.OnceValue(func() uintptr {
		return purego.NewCallback(func(e uintptr) { release(e) })
	})
)

// keep records an allocation handed to C: pin pins its memory, obj keeps it
// reachable, and release(addr) undoes both.
func keep(addr uintptr, pin *runtime.Pinner, obj any) {
	ownedMu.Lock()
	owned[addr] = pin
	ownedKeep[addr] = obj
	ownedMu.Unlock()
}

func release(a uintptr) {
	ownedMu.Lock()
	pin := owned[a]
	delete(owned, a)
	delete(ownedKeep, a)
	ownedMu.Unlock()
	if pin != nil {
		pin.Unpin()
	}
}

func newBytes(b []byte) abi.Bytes {
	if len(b) == 0 {
		return abi.Bytes{}
	}
	buf := append([]byte(nil), b...)
	pin := new(runtime.Pinner)
	pin.Pin(&buf[0])
	a := uintptr(unsafe.Pointer(&buf[0]))
	keep(a, pin, buf)
	return abi.Bytes{Data: &buf[0], Len: uintptr(len(buf)), Drop: bytesDrop()}
}

type errorObject struct {
	obj abi.ErrorObj
	msg []byte
}

// newErrorObject returns an owned awake_error; its drop releases it.
func newErrorObject(code int32, msg string) uintptr {
	e := &errorObject{msg: append([]byte(msg), 0)}
	e.obj = abi.ErrorObj{Size: uint32(unsafe.Sizeof(abi.ErrorObj{})), Code: code, Message: &e.msg[0], Drop: errorDrop()}
	pin := new(runtime.Pinner)
	pin.Pin(&e.msg[0])
	pin.Pin(e)
	a := uintptr(unsafe.Pointer(&e.obj))
	keep(a, pin, e)
	return a
}
