package reactor

import (
	"fmt"
	"unsafe"

	"github.com/awake-rt/awake/abi"
)

// OpenIO registers fd (non-blocking, owned by the caller) for edge-triggered
// readiness: interest is abi.IORead, abi.IOWrite or both. Nothing fires
// until the OS reports readiness; edge-triggered registration reports the
// fd's current readiness once, so an fd that is already readable fires on
// the next Turn. The caller must CloseIO before close(2) on fd.
func (r *Reactor) OpenIO(fd int32, interest uint32) (*abi.IO, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if fd < 0 || interest == 0 || interest&^(abi.IORead|abi.IOWrite) != 0 {
		return nil, fmt.Errorf("awake reactor: OpenIO(fd %d, interest %#x): want fd >= 0 and interest AWAKE_IO_READ, AWAKE_IO_WRITE or both", fd, interest)
	}
	i, p, err := r.ios.alloc()
	if err != nil {
		return nil, err
	}
	io := (*abi.IO)(p)
	r.initEvent(&io.Read)
	r.initEvent(&io.Write)
	io.Fd = fd
	io.Interest = interest
	io.Reserved = uint64(i)
	if err := r.p.addIO(fd, interest, i); err != nil {
		r.ios.release(i)
		return nil, fmt.Errorf("awake reactor: registering fd %d: %w (is it open, and not registered twice?)", fd, err)
	}
	return io, nil
}

// CloseIO deregisters io, drops its parked wakers and frees its slot. Safe
// after Close. A pointer that is not an open registration is counted as
// misuse and ignored.
func (r *Reactor) CloseIO(io *abi.IO) {
	i, ok := r.ios.lookup(unsafe.Pointer(io), io.Reserved)
	if !ok {
		r.stats.Misuse++
		return
	}
	if !r.closed {
		r.p.delIO(io.Fd, io.Interest, i)
	}
	okR := closeEvent(&io.Read)
	okW := closeEvent(&io.Write)
	if !okR || !okW {
		r.stats.Misuse++ // a poll is running on it: leak the slot, do not race
		return
	}
	r.ios.release(i)
}
