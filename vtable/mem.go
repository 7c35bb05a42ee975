package vtable

import (
	"sync/atomic"
	"unsafe"

	"github.com/awake-rt/awake/internal/cmem"
)

// ptr turns an address of non-Go memory (an mmap'd cell or queue block, or C
// memory) into an unsafe.Pointer. The addresses come from the assembly's
// queue links and from C, so they are integers first; the memory they name is
// never moved or freed, which is what makes the conversion sound.
func ptr(a uintptr) unsafe.Pointer { return cmem.Ptr(a) }

// word returns the 64-bit word at base+off for use with sync/atomic.
func word(base uintptr, off uintptr) *uint64 { return (*uint64)(ptr(base + off)) }

func load(base, off uintptr) uint64     { return atomic.LoadUint64(word(base, off)) }
func store(base, off uintptr, v uint64) { atomic.StoreUint64(word(base, off), v) }

// put is a plain store, for a cell no other thread can reach yet (its
// publication is ordered by a later atomic store or by the crossing into C
// that hands it out).
func put(base, off uintptr, v uint64) { *word(base, off) = v }
