package vtable

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
)

var (
	hostVtableOnce sync.Once
	hostVtablePtr  *abi.WakerVtable
	hostVtableErr  error
)

// HostVtable returns the host's waker vtable: an awake_waker_vtable in
// memory outside the Go heap (mapped once, never unmapped) whose functions are
// the runtime-free assembly entry points.
func HostVtable() (*abi.WakerVtable, error) {
	hostVtableOnce.Do(func() {
		if !asmSupported {
			hostVtableErr = errUnsupported
			return
		}
		mem, err := unix.Mmap(-1, 0, unix.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
		if err != nil {
			hostVtableErr = err
			return
		}
		vt := (*abi.WakerVtable)(unsafe.Pointer(&mem[0]))
		vt.Size = uint32(unsafe.Sizeof(abi.WakerVtable{}))
		vt.Clone = cloneABI0
		vt.Wake = wakeABI0
		vt.WakeByRef = wakeByRefABI0
		vt.Drop = dropABI0
		hostVtablePtr = vt
	})
	return hostVtablePtr, hostVtableErr
}

// IsHost reports whether w is one of this host's own wakers.
func IsHost(w abi.Waker) bool {
	return w.Vtable != nil && w.Vtable == hostVtablePtr
}
