package reactor

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// slotsPerChunk is how many slots one mmap'd chunk holds (a power of two so a
// slot index splits into chunk and offset with a shift and a mask).
const (
	chunkShift    = 14
	slotsPerChunk = 1 << chunkShift
)

// slab hands out fixed-size slots of memory outside the Go heap, named by a
// dense uint32 index. Chunks are mapped on demand and never unmapped: C code
// may still hold a pointer into a slot after closing it, and must find mapped
// memory there. Freed slots are reused, most recently freed first.
//
// Slots are handed out by bumping `next` inside the last chunk, so untouched
// pages of a chunk are never faulted in.
type slab struct {
	what   string  // "timer" or "io", for errors
	size   uintptr // bytes per slot, a multiple of 8
	chunks [][]byte
	free   []uint32
	next   uint32 // slots ever handed out; indices >= next were never used
	used   []bool // used[i]: slot i is handed out
	live   int
}

func newSlab(what string, size uintptr) slab {
	return slab{what: what, size: (size + 7) &^ 7}
}

// alloc returns a free slot's index and address. The slot's bytes are
// whatever its previous user left (zero for a fresh slot).
func (s *slab) alloc() (uint32, unsafe.Pointer, error) {
	var i uint32
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		if int(s.next) == len(s.chunks)*slotsPerChunk {
			if s.next >= 1<<31 {
				return 0, nil, fmt.Errorf("awake reactor: %d %s slots in use; close some before opening more", s.next, s.what)
			}
			mem, err := unix.Mmap(-1, 0, int(s.size)*slotsPerChunk,
				unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
			if err != nil {
				return 0, nil, fmt.Errorf("awake reactor: mapping %d %s slots: %w (out of memory or address space?)", slotsPerChunk, s.what, err)
			}
			s.chunks = append(s.chunks, mem)
		}
		i = s.next
		s.next++
		s.used = append(s.used, false)
	}
	s.used[i] = true
	s.live++
	return i, s.addr(i), nil
}

// addr returns the address of slot i, which must be < next.
func (s *slab) addr(i uint32) unsafe.Pointer {
	return unsafe.Pointer(&s.chunks[i>>chunkShift][uintptr(i&(slotsPerChunk-1))*s.size])
}

// lookup returns the index of the live slot at p, whose host-private field
// claims index `claimed`. It reports false for a pointer that is not a live
// slot of this slab (a stale, foreign or corrupted pointer), so a plugin bug
// is refused instead of corrupting another slot.
func (s *slab) lookup(p unsafe.Pointer, claimed uint64) (uint32, bool) {
	if claimed >= uint64(s.next) {
		return 0, false
	}
	i := uint32(claimed)
	return i, s.used[i] && s.addr(i) == p
}

// release returns live slot i to the free list.
func (s *slab) release(i uint32) {
	s.used[i] = false
	s.free = append(s.free, i)
	s.live--
}

// unmap returns every chunk to the OS; the slab is empty afterwards.
func (s *slab) unmap() {
	for _, c := range s.chunks {
		_ = unix.Munmap(c)
	}
	*s = slab{what: s.what, size: s.size}
}
