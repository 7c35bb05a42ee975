package ccall

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Frames is a stack of call frames outside the Go heap for one goroutine
// that makes many C calls (an executor worker): a call through Frames
// allocates nothing. Nested calls (a C function calling back into Go, which
// calls C again) take the next frame. Frames must only be used by the
// goroutine that owns it.
type Frames struct {
	mem   []byte
	depth int
}

const maxDepth = 4096 / int(unsafe.Sizeof(frame{}))

// NewFrames maps a page of frames.
func NewFrames() (*Frames, error) {
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("awake: mapping C call frames: %w", err)
	}
	return &Frames{mem: mem}, nil
}

// Call4 is Call4 through the owner's frames. Arguments must not be Go
// pointers (the frame is not scanned by the GC).
func (s *Frames) Call4(fn, a0, a1, a2, a3 uintptr) uintptr {
	if s.depth == maxDepth {
		return Call4(fn, a0, a1, a2, a3) // absurdly deep nesting: heap frame
	}
	f := (*frame)(unsafe.Pointer(&s.mem[s.depth*int(unsafe.Sizeof(frame{}))]))
	s.depth++
	*f = frame{fn: fn, a: [6]uintptr{a0, a1, a2, a3}}
	call(f)
	s.depth--
	return f.r0
}

// Close unmaps the frames; no call may be in progress.
func (s *Frames) Close() error { return unix.Munmap(s.mem) }
