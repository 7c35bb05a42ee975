package executor

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/awake-rt/awake/abi"
)

// pollBlock is a worker's C-visible poll area, outside the Go heap: batchMax
// entries of entrySize bytes, one per C future polled in a batch.
//
//	off   field
//	0     awake_context     host_data = the entry's own address (PollerFor);
//	                        its waker's data (+8) is the task's cell
//	40    poll function     read by awake_poll_batch
//	48    self
//	56    awake_error *err  written by the future on AWAKE_ERROR
//	64    int32 status      written by awake_poll_batch
//	68    int32 repolls     written by awake_poll_batch: extra polls of a
//	                        task that woke itself
//	72    timer-ops block   read by timer_open/timer_close (timerops.go)
//	80    uint64 released   written by awake_poll_batch: the cell state it
//	                        released its claim from, 0 if it held none
//	128   output buffer     entryOutMax bytes, 128-byte aligned
//
// The layout is fixed by pollbatch_*.s (TestPollEntryLayout checks it).
type pollBlock struct {
	mem  []byte
	base uintptr
}

// pollEntry mirrors one entry's head.
type pollEntry struct {
	cx       abi.Context
	poll     uintptr
	self     uintptr
	err      uintptr
	status   int32
	repolls  int32
	ops      uintptr
	released uint64
}

const (
	batchMax    = 64
	entrySize   = 256
	entryErr    = 56
	entryOut    = 128
	entryOutMax = entrySize - entryOut
	blockSize   = batchMax * entrySize

	// repollMax is how many times in a row the batch poller polls again a
	// task that woke itself during its poll (awake.h: the waker contract)
	// before other tasks and the reactor run: a crossing holds at most
	// batchMax*(repollMax+1) = 1024 polls, so it stays short (tens of
	// microseconds for polls that do little), and a task that yields to
	// be fair (wake_by_ref + PENDING) gets at most 16 polls in a row. 16
	// polls per crossing already spread the crossing's cost: a lone
	// self-waking task costs ~16 ns per poll (RATIONALE.md).
	repollMax = 15
)

func newPollBlock() (*pollBlock, error) {
	mem, err := unix.Mmap(-1, 0, blockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("mapping its poll block: %w", err)
	}
	pb := &pollBlock{mem: mem, base: uintptr(unsafe.Pointer(&mem[0]))}
	for i := range batchMax {
		cx := &pb.entry(i).cx
		cx.Size = uint32(unsafe.Sizeof(abi.Context{}))
		cx.HostData = pb.addr(i)
	}
	return pb, nil
}

func (pb *pollBlock) addr(i int) uintptr { return pb.base + uintptr(i)*entrySize }

func (pb *pollBlock) entry(i int) *pollEntry {
	return (*pollEntry)(unsafe.Pointer(&pb.mem[i*entrySize]))
}

// index returns the entry a host_data value names, or -1.
func (pb *pollBlock) index(hostData uintptr) int {
	if hostData < pb.base || hostData >= pb.base+blockSize || (hostData-pb.base)%entrySize != 0 {
		return -1
	}
	return int((hostData - pb.base) / entrySize)
}

// batchable reports whether f can be polled in a batch: its output fits the
// entry's buffer.
func batchable(f *Foreign) bool {
	vt := f.F.Vtable
	return vt != nil && vt.Poll != 0 && vt.OutputSize <= entryOutMax && vt.OutputAlign <= entryOut
}
